// alloy-mock: an in-process (or standalone) mock LLM provider that speaks real provider wire formats over
// loopback HTTP/1.1, answers with a deterministic scripted model, and injects faults on demand.
//
// Endpoints (any path prefix before these suffixes is accepted, e.g. `/v1/chat/completions`,
// `/openai/chat/completions`):
//   POST .../chat/completions                       OpenAI Chat Completions (JSON or SSE + [DONE])
//   POST .../responses                              OpenAI Responses (JSON or named SSE events)
//   POST .../messages                               Anthropic Messages (needs x-api-key + anthropic-version)
//   POST .../models/{model}:generateContent         Gemini (needs x-goog-api-key or ?key=)
//   POST .../models/{model}:streamGenerateContent   Gemini stream (?alt=sse: SSE; otherwise a JSON array)
//   POST .../api/chat                               Ollama native (NDJSON stream unless "stream":false)
//   POST /_mock/faults   body: a fault list (see Fault and docs/mock.md)   GET  /_mock/stats
//   POST /_mock/reset                                                      GET  /_mock/requests
//
// The scripted model (deterministic; the rules read the LAST user message that contains text):
//   * Directives in that text:
//       [[call NAME {json args}]]  call NAME with those arguments (several directives → parallel calls in
//                                  one turn). Only on a fresh turn: no tool results after that message.
//       [[loop]]                   call the first offered tool on every turn, forever (turn-limit tests).
//       [[reply TEXT]]             the final answer is exactly TEXT (also in typed mode: lets tests send
//                                  invalid JSON on purpose).
//       [[empty]]                  the final answer is the empty text.
//       [[chunks N]]               stream the answer in N pieces.
//       [[no_tools]]               ignore the offered tools and answer directly.
//   * A forced tool (`tool_choice` naming one offered tool; Gemini mode ANY with one allowed name) is
//     always answered with exactly that call, its arguments generated from the tool's schema. Anthropic
//     clients use this for structured output. `tool_choice:"none"` (Gemini mode NONE) hides the tools.
//   * Tools offered and no call directive: on a fresh turn, call EVERY offered tool once, all in one
//     turn, with arguments generated from each parameter schema.
//   * Otherwise the answer is: the [[reply]]/[[empty]] text if given; else for a typed request (a JSON
//     schema in the provider's structured-output field) JSON generated from the schema; else after tool
//     results "Tool results: <r1>, <r2>"; else "Mock reply: <first 60 characters of the user text>".
//     JSON mode without a schema answers {"text":"Mock reply: ..."}.
//   * Generated values (schema_values): integers 1, 2, 3, ... in document order (clamped to
//     minimum/maximum), numbers 1.5, strings "x" (or a sample for `format`, repeated to `minLength`),
//     booleans true, `enum` → first value, `const` → itself, `anyOf`/`oneOf` → first non-null branch,
//     arrays → one item (or `minItems`), objects → every property (optional ones too), maps
//     (`additionalProperties` only) → one "key" entry; `$ref` to `#`, `#/$defs/...`, `#/definitions/...`.
//   * Streams split the text by words (at least 3 pieces when the text is long enough) or into N pieces
//     with [[chunks N]]; tool-call arguments stream in several fragments where the format allows.
//   * Usage: input tokens = max(1, request body bytes / 4), output tokens = max(1, reply characters / 4).
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alloy::mock {

/// Server configuration. Zero durations mean "no delay".
struct ServerOptions {
    std::string host = "127.0.0.1";  ///< address to bind
    unsigned short port = 0;         ///< 0 picks a free port; read it back with Server::port()
    int threads = 1;                 ///< threads running the server's own io_context
    /// Serve HTTPS with a freshly generated test PKI: the server certificate is valid for "localhost" and
    /// 127.0.0.1 (and `host`) and signed by a CA whose PEM ca_cert_pem() returns.
    bool tls = false;
    /// Delay before the response headers of every model request (async timer, never a sleeping thread):
    /// lets benchmarks hold thousands of requests in flight.
    std::chrono::milliseconds response_delay{0};
    std::chrono::milliseconds chunk_delay{0};  ///< delay between stream chunks of every stream
    bool require_auth = false;                 ///< OpenAI-style and Ollama paths then demand a Bearer token
    std::size_t max_recorded_requests = 256;   ///< ring of recorded requests; 0 disables recording
};

/// One injected fault. Queued faults are consumed first-in first-out by the next model request whose
/// path contains `path_contains` (empty matches every path); each applies `times` times.
struct Fault {
    std::string path_contains{};  ///< only requests whose path contains this (empty: any)
    /// HTTP status of a provider-shaped error response (0: no error status). With stream_error_event it
    /// only shapes the in-stream error (the HTTP status stays 200).
    int status = 0;
    std::string error_type{};  ///< provider error type (OpenAI `type`, Anthropic `error.type`, Gemini `status`)
    std::string code{};        ///< OpenAI `code`; Anthropic `error.details.error_code`
    std::string message{};     ///< error message (a default per status when empty)
    /// Retry hint: header `retry-after` in whole seconds (rounded up) or `retry-after-ms` when
    /// retry_after_in_ms; Gemini 429 bodies always carry a RetryInfo (`retryDelay`, default "1s").
    std::optional<std::chrono::milliseconds> retry_after{};
    bool retry_after_in_ms = false;
    std::optional<bool> should_retry{};                  ///< adds `x-should-retry: true|false`
    std::chrono::milliseconds delay_before_headers{0}; ///< wait before anything is written
    std::chrono::milliseconds delay_between_chunks{0}; ///< wait between stream chunks
    bool drop_connection = false;  ///< close the connection without any response
    bool truncate_body = false;    ///< send the headers and half the body, then close
    /// Streams: send this many events (chunks) and close without finishing. Non-stream requests: as
    /// truncate_body.
    std::optional<std::size_t> truncate_stream_after{};
    bool malformed_json = false;  ///< 200 with broken JSON (non-stream body, or one broken stream event)
    /// Streams: a provider-shaped error event after the first content event, then the stream ends
    /// (HTTP 200). Non-stream requests get that error as an ordinary error response (default 500).
    bool stream_error_event = false;
    int times = 1;  ///< how many requests this fault applies to
};

/// One request as the server received it. Credentials are redacted.
struct RecordedRequest {
    std::string method{};
    std::string target{};  ///< path and query (`key=` query values redacted)
    std::vector<std::pair<std::string, std::string>> headers{};  ///< lower-case names; auth values redacted
    boost::json::value body;  ///< the parsed JSON body (null when absent or not JSON)

    /// The value of a header (case-insensitive name), or nullopt.
    std::optional<std::string> header(std::string_view name) const;
};

/// Counters since start (or since reset(), except open_connections).
struct Stats {
    std::uint64_t requests = 0;              ///< model and unknown-path requests (not /_mock/ ones)
    std::uint64_t connections_accepted = 0;
    std::uint64_t open_connections = 0;
    std::uint64_t faults_applied = 0;
    std::uint64_t faults_pending = 0;        ///< remaining applications of queued faults
};

/// The mock provider server. Listens from construction to destruction on its own io_context run by
/// `threads` threads, so tests can drive clients on their own io_context. All member functions are
/// thread-safe.
class Server {
public:
    /// Binds and starts serving; throws std::system_error when the address cannot be bound.
    explicit Server(ServerOptions options = {});
    /// Stops serving, closes every connection and joins the threads.
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    unsigned short port() const;   ///< the bound port
    std::string base_url() const;  ///< "http://127.0.0.1:PORT" ("https://..." in TLS mode)
    std::string ca_cert_pem() const;  ///< TLS mode: PEM of the CA that signed the server certificate; else ""

    void push_fault(Fault fault);  ///< queue a fault (FIFO)
    void clear_faults();           ///< drop every queued fault
    std::vector<RecordedRequest> requests() const;  ///< the last max_recorded_requests requests, oldest first
    Stats stats() const;
    void reset();  ///< clear faults, recorded requests and counters (open_connections stays true)

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Parses a fault from its JSON form (the objects POSTed to /_mock/faults):
/// {"path","status","error_type","code","message","retry_after_ms","retry_after_in_ms","should_retry",
///  "delay_before_headers_ms","delay_between_chunks_ms","drop_connection","truncate_body",
///  "truncate_stream_after","malformed_json","stream_error_event","times"}; unknown keys are rejected.
/// Throws std::invalid_argument with a precise message.
Fault fault_from_json(const boost::json::value& v);

}  // namespace alloy::mock
