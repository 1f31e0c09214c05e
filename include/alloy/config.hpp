// Settings: every knob of a command run, layered from environment to per-call overrides.
//
// Precedence, highest first: per call (`cmd.with(...)`, ask options) > command options > scope
// (`Runtime` defaults) > `configure()` > environment (`ALLOY_*`) > built-ins. A field left unset
// (std::nullopt) never clears a lower layer; `extra` merges key-wise.
#pragma once

#include <alloy/tool.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace alloy {

enum class ErrorKind;

/// Decides whether a failed attempt of a whole command is retried. Receives the attempt's exception.
using RetryPredicate = std::function<bool(const std::exception&)>;

/// A RetryPredicate that retries CommandErrors of the given kinds only.
RetryPredicate retry_on_kinds(std::initializer_list<ErrorKind> kinds);

/// The `tools` setting: unset (inherit the lower layer) or a list of tools. Written as a braced list,
/// `{.tools = {add}}` or `{.tools = {add, search}}`, or from a std::vector<Tool>.
class ToolList {
public:
    ToolList() = default;  ///< unset
    ToolList(std::initializer_list<Tool> tools) : tools_(std::vector<Tool>(tools)) {}
    ToolList(std::vector<Tool> tools) : tools_(std::move(tools)) {}  // NOLINT: implicit by design

    bool has_value() const noexcept { return tools_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    const std::vector<Tool>& operator*() const { return *tools_; }
    const std::vector<Tool>* operator->() const { return &*tools_; }

private:
    std::optional<std::vector<Tool>> tools_;
};

/// HTTP transport settings. Zero durations or sizes are not allowed; std::nullopt means "inherit".
struct HttpSettings {
    std::optional<std::chrono::milliseconds> resolve_timeout{};     ///< DNS resolution (default 10 s)
    std::optional<std::chrono::milliseconds> connect_timeout{};     ///< TCP connect (default 10 s)
    std::optional<std::chrono::milliseconds> tls_timeout{};         ///< TLS handshake (default 10 s)
    std::optional<std::chrono::milliseconds> write_timeout{};       ///< sending the request (default 30 s)
    std::optional<std::chrono::milliseconds> first_byte_timeout{};  ///< until response headers (default 600 s)
    std::optional<std::chrono::milliseconds> stream_idle_timeout{}; ///< max gap between body chunks (default 120 s)
    std::optional<std::size_t> max_response_bytes{};   ///< response body limit (default 32 MiB)
    std::optional<int> request_retries{};              ///< transport-level retries of retryable failures (default 2; 0 = off)
    std::optional<int> max_connections_per_origin{};   ///< pool bound per origin and executor (default 64)
    std::optional<std::chrono::milliseconds> pool_idle_timeout{};   ///< idle pooled connections expire (default 60 s)
    std::optional<std::string> ca_file{};              ///< extra PEM CA bundle to trust (default: system store only)
    /// Disables TLS certificate and host-name verification. Only for local test servers; never default.
    std::optional<bool> insecure_skip_tls_verify{};
};

/// Every setting of a command run. All fields are optional; see the file comment for precedence.
struct Settings {
    /// Model id; routes to an adapter (`gpt-*`, `o1/o3/o4*` -> OpenAI; `claude*` -> Anthropic;
    /// `gemini*` -> Gemini; `ollama:NAME` -> Ollama). Built-in: "gpt-5-mini".
    std::optional<std::string> model{};
    /// Explicit adapter: "openai" (Responses), "openai-chat" (also every OpenAI-compatible server),
    /// "anthropic", "gemini", "ollama", "fake". Overrides routing by model id.
    std::optional<std::string> provider{};
    std::optional<std::string> base_url{};   ///< provider base URL (else the adapter's default or `*_BASE_URL`)
    std::optional<std::string> api_key{};    ///< provider key (else the usual environment variable); never logged
    ToolList tools{};                         ///< tools the model may call (replaces lower layers when set)
    std::optional<std::string> system{};        ///< system prompt (`ALLOY_DEFAULT_SYSTEM`)
    /// Context rendered into the prompt of `ask` (a JSON block after the question).
    std::optional<boost::json::value> context{};
    std::optional<double> temperature{};
    std::optional<std::chrono::milliseconds> timeout{};   ///< per attempt of a command (`ALLOY_TIMEOUT`)
    std::optional<std::chrono::milliseconds> deadline{};  ///< whole command, across retries and tool turns
    std::optional<int> retry{};                 ///< total attempts of the whole command (built-in 1)
    std::optional<RetryPredicate> retry_on{};   ///< which failures are retried (default: all but ConfigurationError)
    std::optional<int> max_tokens{};
    std::optional<int> max_tool_turns{};        ///< built-in 10
    std::optional<bool> auto_finalize_missing_output{};  ///< built-in true
    std::optional<int> parallel_tools_max{};    ///< built-in 8
    boost::json::object extra{};                ///< extra provider request fields, merged key-wise
    std::optional<std::chrono::milliseconds> backoff_initial{};  ///< first retry delay bound (default 500 ms)
    std::optional<std::chrono::milliseconds> backoff_max{};      ///< retry delay cap (default 8 s)
    /// Largest server-directed retry delay honoured; a longer one is capped to it (default 60 s).
    std::optional<std::chrono::milliseconds> retry_after_max{};
    /// Sends a W3C `traceparent` header with each provider request, linking provider-side traces to
    /// the run's spans (default off).
    std::optional<bool> propagate_traceparent{};
    HttpSettings http{};
};

/// Settings with every field decided. Produced by resolve(); what the engine actually uses.
struct ResolvedSettings {
    std::string model = "gpt-5-mini";
    std::string provider;  ///< empty: route by model id
    std::string base_url;
    std::string api_key;
    std::vector<Tool> tools;
    std::optional<std::string> system;
    std::optional<boost::json::value> context;
    std::optional<double> temperature;
    std::chrono::milliseconds timeout{0};   ///< 0 = no per-attempt timeout
    std::chrono::milliseconds deadline{0};  ///< 0 = no overall deadline
    int retry = 1;
    RetryPredicate retry_on;                ///< empty = default policy
    std::optional<int> max_tokens;
    int max_tool_turns = 10;
    bool auto_finalize_missing_output = true;
    int parallel_tools_max = 8;
    boost::json::object extra;
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{8000};
    std::chrono::milliseconds retry_after_max{60000};
    bool propagate_traceparent = false;
    struct Http {
        std::chrono::milliseconds resolve_timeout{10000};
        std::chrono::milliseconds connect_timeout{10000};
        std::chrono::milliseconds tls_timeout{10000};
        std::chrono::milliseconds write_timeout{30000};
        std::chrono::milliseconds first_byte_timeout{600000};
        std::chrono::milliseconds stream_idle_timeout{120000};
        std::size_t max_response_bytes = 32u << 20;
        int request_retries = 2;
        int max_connections_per_origin = 64;
        std::chrono::milliseconds pool_idle_timeout{60000};
        std::string ca_file;
        bool insecure_skip_tls_verify = false;
    } http;
};

/// Lays `upper` over `lower`: fields set in `upper` win, unset ones keep `lower`'s; `extra` merges key-wise.
Settings merge(Settings lower, const Settings& upper);

/// Resolves a stack of layers (lowest first) over the built-in defaults and validates the result.
/// Throws ConfigurationError for values out of range (e.g. retry < 1, negative timeouts).
ResolvedSettings resolve(const Settings& merged);

/// Reads the `ALLOY_*` environment variables through `getenv` (injectable for tests).
/// Throws ConfigurationError naming the variable for a malformed value; never ignores one silently.
Settings settings_from_env(const std::function<const char*(const char*)>& getenv);

/// Reads the process environment (`ALLOY_MODEL`, `ALLOY_TEMPERATURE`, `ALLOY_MAX_TOKENS`,
/// `ALLOY_DEFAULT_SYSTEM`, `ALLOY_RETRY`, `ALLOY_MAX_TOOL_TURNS`, `ALLOY_AUTO_FINALIZE_MISSING_OUTPUT`,
/// `ALLOY_PARALLEL_TOOLS_MAX`, `ALLOY_EXTRA_JSON`, `ALLOY_BACKEND`, `ALLOY_TIMEOUT`, `ALLOY_DEADLINE`,
/// `ALLOY_BASE_URL`, `ALLOY_REQUEST_RETRIES`, `ALLOY_CONNECT_TIMEOUT`, `ALLOY_FIRST_BYTE_TIMEOUT`,
/// `ALLOY_STREAM_IDLE_TIMEOUT`, `ALLOY_MAX_RESPONSE_BYTES`, `ALLOY_CA_FILE`).
/// Durations accept seconds ("30", "1.5") or a unit suffix ("250ms", "2s", "1m").
Settings settings_from_env();

/// Sets the process-wide defaults layer (between the environment and every Runtime's own defaults).
/// Replaces the previous configure() layer. Thread-safe; affects commands started afterwards.
void configure(Settings settings);

/// The current configure() layer.
Settings configured();

}  // namespace alloy
