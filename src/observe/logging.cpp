// The log hook (default: spdlog's default logger) and the JSON-lines event log observer.
#include <alloy/errors.hpp>
#include <alloy/logging.hpp>

#include <boost/json.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <utility>

namespace alloy {
namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) noexcept {
    switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

void spdlog_default_sink(LogLevel level, std::string_view line) {
    spdlog::default_logger_raw()->log(to_spdlog(level), spdlog::string_view_t(line.data(), line.size()));
}

/// Process-wide log hook. The level is an atomic so disabled lines cost one load; the sink is swapped
/// under a mutex and called outside it.
struct LogHook {
    std::atomic<LogLevel> min_level{LogLevel::info};
    std::mutex mutex;
    std::shared_ptr<const LogSink> sink = std::make_shared<const LogSink>(spdlog_default_sink);
};

LogHook& hook() {
    static LogHook instance;
    return instance;
}

std::string rfc3339_ms(std::chrono::system_clock::time_point time) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(time.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    const int millis = static_cast<int>(ms - static_cast<long long>(seconds) * 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buffer;
}

bool is_end(EventType type) noexcept {
    return type == EventType::command_end || type == EventType::attempt_end || type == EventType::request_end ||
           type == EventType::tool_end || type == EventType::stream_end;
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
    switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
    }
    return "info";
}

void set_log_handler(LogLevel min_level, LogSink sink) {
    auto& h = hook();
    auto next = std::make_shared<const LogSink>(sink ? std::move(sink) : LogSink(spdlog_default_sink));
    {
        std::lock_guard lock(h.mutex);
        h.sink = std::move(next);
    }
    h.min_level.store(min_level, std::memory_order_release);
}

bool log_enabled(LogLevel level) noexcept {
    const LogLevel min = hook().min_level.load(std::memory_order_acquire);
    return level != LogLevel::off && min != LogLevel::off && level >= min;
}

void log(LogLevel level, std::string_view line) {
    if (!log_enabled(level)) return;
    std::shared_ptr<const LogSink> sink;
    {
        auto& h = hook();
        std::lock_guard lock(h.mutex);
        sink = h.sink;
    }
    try {
        (*sink)(level, line);
    } catch (...) {
        // A failing log sink must never break the caller.
    }
}

LogSink log_handler_sink() {
    return [](LogLevel level, std::string_view line) { log(level, line); };
}

RedactionOptions JsonLogOptions::redaction() const {
    RedactionOptions r;
    r.fields = redact_fields;
    r.patterns = redact_patterns;
    r.emails = redact_emails;
    r.card_numbers = redact_card_numbers;
    r.mask = mask;
    return r;
}

JsonLogObserver::JsonLogObserver(JsonLogOptions options, LogSink sink)
    : options_(std::move(options)), redactor_(options_.redaction()), sink_(std::move(sink)) {
    if (!sink_) throw ConfigurationError("JsonLogObserver needs a sink");
}

LogLevel JsonLogObserver::level_of(const Event& event) noexcept {
    if (event.type == EventType::retry_scheduled) return LogLevel::warn;
    if (is_end(event.type) && event.outcome == "error")
        return event.type == EventType::command_end ? LogLevel::error : LogLevel::warn;
    if (event.type == EventType::request_end && event.http_status >= 400) return LogLevel::warn;
    if (event.type == EventType::command_start || event.type == EventType::command_end ||
        event.type == EventType::finalize)
        return LogLevel::info;
    return LogLevel::debug;
}

void JsonLogObserver::on_event(const Event& event) {
    const LogLevel level = level_of(event);
    if (options_.level == LogLevel::off || level < options_.level) return;
    const std::string line = format(event);
    sink_(level, line);
}

std::string JsonLogObserver::format(const Event& event) const {
    boost::json::object line;
    line.reserve(24);
    // Identifiers and names: only credential shapes are looked for. Free text: every rule.
    const auto put_name = [&](std::string_view key, const std::string& value) {
        if (!value.empty()) line[key] = sanitize_utf8(redactor_.mask_credentials(value));
    };
    const auto put_text = [&](std::string_view key, const std::string& value) {
        if (!value.empty()) line[key] = sanitize_utf8(redactor_.mask_text(value));
    };
    const auto put_count = [&](std::string_view key, auto value) {
        if (value != 0) line[key] = value;
    };

    line["ts"] = rfc3339_ms(event.time);
    line["level"] = to_string(level_of(event));
    line["event"] = to_string(event.type);
    put_name("run_id", event.run_id);
    put_name("trace_id", event.trace_id);
    put_name("span_id", event.span_id);
    put_name("parent_span_id", event.parent_span_id);
    put_name("command", event.command);
    put_name("model", event.model);
    put_name("provider", event.provider);
    put_count("attempt", event.attempt);
    put_name("outcome", event.outcome);
    if (event.error_kind) line["error_kind"] = to_string(*event.error_kind);
    put_text("error", event.error_message);
    if (event.duration.count() != 0)
        line["duration_ms"] = std::round(std::chrono::duration<double, std::milli>(event.duration).count() * 1000) / 1000;
    put_count("http_status", event.http_status);
    put_name("request_id", event.request_id);
    put_count("bytes_sent", static_cast<std::uint64_t>(event.bytes_sent));
    put_count("bytes_received", static_cast<std::uint64_t>(event.bytes_received));
    const Usage& u = event.usage;
    if (u.input_tokens != 0 || u.output_tokens != 0 || u.cached_tokens != 0 || u.reasoning_tokens != 0) {
        line["usage"] = boost::json::object{{"input", u.input_tokens},
                                            {"output", u.output_tokens},
                                            {"cached", u.cached_tokens},
                                            {"reasoning", u.reasoning_tokens}};
    }
    put_name("finish_reason", event.finish_reason);
    put_count("tool_turn", event.tool_turn);
    put_count("delay_ms", static_cast<std::int64_t>(event.delay.count()));
    put_name("retry_level", event.retry_level);
    put_text("reason", event.reason);
    put_name("tool", event.tool);
    put_name("tool_call_id", event.tool_call_id);
    put_text("contract", event.contract);
    put_count("chunks", static_cast<std::uint64_t>(event.chunks));
    if (options_.log_content && event.content && !event.content->empty()) {
        const std::string content = sanitize_utf8(*event.content);
        boost::system::error_code ec;
        boost::json::value parsed = boost::json::parse(content, ec);
        if (!ec && (parsed.is_object() || parsed.is_array())) {
            redactor_.mask_json(parsed);
            line["content"] = boost::json::serialize(parsed);
        } else {
            line["content"] = sanitize_utf8(redactor_.mask_text(content));
        }
    }
    return boost::json::serialize(line);
}

std::shared_ptr<JsonLogObserver> json_log_observer(JsonLogOptions options, LogSink sink) {
    return std::make_shared<JsonLogObserver>(std::move(options), std::move(sink));
}

namespace {

LogSink logger_sink(std::shared_ptr<spdlog::logger> logger) {
    return [logger = std::move(logger)](LogLevel level, std::string_view line) {
        logger->log(to_spdlog(level), spdlog::string_view_t(line.data(), line.size()));
    };
}

std::shared_ptr<spdlog::logger> plain_logger(spdlog::sink_ptr sink) {
    auto logger = std::make_shared<spdlog::logger>("alloy.events", std::move(sink));
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::trace);  // the observer filters
    logger->flush_on(spdlog::level::trace);   // one line per event, visible at once
    return logger;
}

}  // namespace

std::shared_ptr<JsonLogObserver> json_log_observer(JsonLogOptions options) {
    return json_log_observer(std::move(options),
                             logger_sink(plain_logger(std::make_shared<spdlog::sinks::stdout_sink_mt>())));
}

std::shared_ptr<JsonLogObserver> json_log_observer(JsonLogOptions options, std::FILE* file) {
    if (!file) throw ConfigurationError("json_log_observer needs an open FILE");
    return json_log_observer(std::move(options), [file](LogLevel, std::string_view line) {
        // One lock per line keeps lines from different threads whole.
        flockfile(file);
        std::fwrite(line.data(), 1, line.size(), file);
        std::fputc('\n', file);
        std::fflush(file);
        funlockfile(file);
    });
}

std::shared_ptr<JsonLogObserver> json_log_observer_to_file(JsonLogOptions options, const std::string& path) {
    spdlog::sink_ptr sink;
    try {
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
    } catch (const spdlog::spdlog_ex& e) {
        throw ConfigurationError("cannot open the event log file '" + path + "': " + e.what());
    }
    return json_log_observer(std::move(options), logger_sink(plain_logger(std::move(sink))));
}

}  // namespace alloy
