// Logging: the library's log hook, a reusable redactor, and the JSON-lines event log observer.
//
// The log hook carries alloy's own diagnostics (an exporter that cannot reach its collector, ...) and,
// when asked, event log lines. By default it forwards to spdlog's default logger; set_log_handler()
// replaces it. The level is checked before any line is formatted, so disabled levels cost one atomic load.
//
// JsonLogObserver writes one JSON object per event per line. Secrets never reach it: configured field
// names and patterns are masked, and credential shapes (`sk-...` keys, `Bearer ...` tokens, `AIza...`
// Google keys, `x-api-key: ...` headers) are masked in every string it writes, whatever the options.
// spdlog stays out of this header; `alloy/logging_spdlog.hpp` adds spdlog-based output targets.
#pragma once

#include <alloy/observe.hpp>

#include <boost/json/value.hpp>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace alloy {

/// Severity of a log line. `off` as a minimum level disables logging.
enum class LogLevel { trace, debug, info, warn, error, off };

/// Stable lower-case name ("trace", "debug", "info", "warn", "error", "off").
std::string_view to_string(LogLevel level) noexcept;

/// Receives complete log lines (no trailing newline). Called on the logging thread; must be thread-safe.
using LogSink = std::function<void(LogLevel level, std::string_view line)>;

/// Routes the library's log lines at `min_level` or above to `sink` (process-wide, thread-safe).
/// A null `sink` restores the default, spdlog's default logger. The default minimum level is `info`.
void set_log_handler(LogLevel min_level, LogSink sink);

/// True when a line at `level` would reach the log hook. Callers check this before formatting.
bool log_enabled(LogLevel level) noexcept;

/// Sends `line` to the log hook when `level` is enabled.
void log(LogLevel level, std::string_view line);

/// Sends the line made by `make_line()` (called only when `level` is enabled) to the log hook.
template <class MakeLine>
void log_lazy(LogLevel level, MakeLine&& make_line) {
    if (log_enabled(level)) log(level, std::string_view(make_line()));
}

/// A LogSink that forwards every line to the log hook (so event logs share the library's destination).
LogSink log_handler_sink();

/// What a Redactor masks.
struct RedactionOptions {
    /// Field names whose values are masked. Matching is case-insensitive, ignores `-` and `_`, and
    /// also covers names that end with a configured name: "api_key" covers "API-KEY", "apiKey" and
    /// "openai_api_key"; "token" covers "access_token" but not "max_tokens".
    std::vector<std::string> fields = {"api_key", "apikey", "authorization", "password",
                                       "secret",  "token",  "email"};
    /// Extra ECMAScript regular expressions masked in free text. std::regex backtracks (quadratic time,
    /// deep recursion), so these run on windows of at most 1 KiB cut at whitespace where possible; a
    /// match longer than a window may be missed. Prefer the built-in detectors below.
    std::vector<std::string> patterns = {};
    /// Built-in linear-time detector: e-mail addresses (`local@domain.tld`).
    bool emails = true;
    /// Built-in linear-time detector: card numbers (13-19 digits with optional single spaces or dashes
    /// between them; longer separated runs are masked too).
    bool card_numbers = true;
    /// What replaces a masked value.
    std::string mask = "***";
};

/// Masks secrets in JSON values and in free text. Immutable after construction; thread-safe; linear
/// time except for user patterns.
///
/// - A JSON member whose name matches a configured field has its value (whatever its type) replaced by
///   the mask; in text, `name: value`, `name=value` and `"name": "value"` have their value masked.
/// - E-mail addresses and card numbers (unless turned off) and user patterns are masked in text.
/// - Credential shapes are always masked, whatever the options: `sk-...` / `sk-ant-...` keys,
///   `Bearer <token>`, `AIza...` Google keys, and the values of `x-api-key`, `api-key`,
///   `x-goog-api-key` and `authorization` pairs.
class Redactor {
public:
    /// Throws ConfigurationError when a pattern is not a valid ECMAScript regular expression.
    explicit Redactor(RedactionOptions options);
    /// The default options.
    Redactor();
    ~Redactor();
    Redactor(const Redactor&);
    Redactor& operator=(const Redactor&);
    Redactor(Redactor&&) noexcept;
    Redactor& operator=(Redactor&&) noexcept;

    /// True when `key` names a configured field.
    bool is_sensitive_field(std::string_view key) const;
    /// Masks configured fields at any depth and applies mask_text() to every other string value.
    void mask_json(boost::json::value& value) const;
    /// Masks configured `name: value` pairs, e-mails, card numbers, patterns and credential shapes.
    std::string mask_text(std::string text) const;
    /// Masks credential shapes only (for identifiers and names, where free-text rules do not apply).
    std::string mask_credentials(std::string text) const;

private:
    struct Impl;
    std::shared_ptr<const Impl> impl_;
};

/// Replaces every invalid UTF-8 sequence in `text` with U+FFFD, so any string can be put into JSON.
std::string sanitize_utf8(std::string_view text);

/// Options of the JSON event log.
struct JsonLogOptions {
    /// Events below this level are skipped before formatting.
    LogLevel level = LogLevel::info;
    /// Write Event::content (prompts, answers, tool arguments). Off by default; the runtime must also
    /// capture content (`Runtime::capture_content(true)`) for there to be any. JSON content has
    /// configured fields masked at any depth; other content goes through the text rules.
    bool log_content = false;
    /// Field names whose values are masked (see RedactionOptions::fields).
    std::vector<std::string> redact_fields = RedactionOptions{}.fields;
    /// Extra ECMAScript regular expressions masked in free text (see RedactionOptions::patterns).
    /// E-mail addresses and card numbers are masked by built-in detectors instead of default regexes:
    /// std::regex is quadratic and recursive, and overflows the stack on long content.
    std::vector<std::string> redact_patterns = {};
    bool redact_emails = true;        ///< built-in e-mail detector
    bool redact_card_numbers = true;  ///< built-in card-number detector
    /// What replaces a masked value.
    std::string mask = "***";

    /// The redaction part of these options.
    RedactionOptions redaction() const;
};

/// Writes each event as one JSON object on one line:
/// `{"ts":"2025-01-02T03:04:05.678Z","level":"info","event":"command_end","run_id":...,...}`.
///
/// Fields: `ts` (RFC 3339 UTC, milliseconds), `level`, `event`, then every non-empty field of the event:
/// `run_id`, `trace_id`, `span_id`, `parent_span_id`, `command`, `model`, `provider`, `attempt`,
/// `outcome`, `error_kind`, `error`, `duration_ms`, `http_status`, `request_id`, `bytes_sent`,
/// `bytes_received`, `usage` {input, output, cached, reasoning}, `finish_reason`, `tool_turn`,
/// `delay_ms`, `retry_level`, `reason`, `tool`, `tool_call_id`, `contract`, `chunks`, `content`.
///
/// Levels: `command_end` with outcome "error" → error; other `*_end` with outcome "error", a
/// `request_end` with HTTP status >= 400, and `retry_scheduled` → warn; `command_start`, other
/// `command_end`s and `finalize` → info; everything else → debug.
///
/// Every line is valid JSON whatever the content (invalid UTF-8 becomes U+FFFD). Thread-safe.
class JsonLogObserver : public Observer {
public:
    /// Writes lines to `sink` (see json_log_observer() for ready-made targets).
    JsonLogObserver(JsonLogOptions options, LogSink sink);

    void on_event(const Event& event) override;

    /// The level an event is logged at.
    static LogLevel level_of(const Event& event) noexcept;
    /// The redacted line for `event` (formatted regardless of the level filter).
    std::string format(const Event& event) const;

private:
    JsonLogOptions options_;
    Redactor redactor_;
    LogSink sink_;
};

/// A JSON event log on standard output (an spdlog logger with a stdout sink and pattern "%v").
std::shared_ptr<JsonLogObserver> json_log_observer(JsonLogOptions options = {});
/// A JSON event log written to `file` (e.g. stderr), flushed per line. `file` must outlive the observer.
std::shared_ptr<JsonLogObserver> json_log_observer(JsonLogOptions options, std::FILE* file);
/// A JSON event log appended to the file at `path` (an spdlog file sink). Throws ConfigurationError
/// when the file cannot be opened.
std::shared_ptr<JsonLogObserver> json_log_observer_to_file(JsonLogOptions options, const std::string& path);
/// A JSON event log whose lines go to `sink` (e.g. log_handler_sink(), or your own logger).
std::shared_ptr<JsonLogObserver> json_log_observer(JsonLogOptions options, LogSink sink);

}  // namespace alloy
