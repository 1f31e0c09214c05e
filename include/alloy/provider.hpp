// The provider-neutral model interface: what the engine sends to a model and what comes back.
//
// Each adapter (OpenAI Responses, OpenAI Chat, Anthropic, Gemini, Ollama, the fake backend and the
// scripted test provider) maps these types to one wire format and back.
#pragma once

#include <alloy/errors.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alloy {

/// A tool call requested by the model.
struct ToolCall {
    std::string id;         ///< provider call id (synthesised when the provider sends none)
    std::string name;       ///< tool name
    std::string arguments;  ///< arguments as JSON text, exactly as the model produced them (may be invalid)
    /// Opaque provider data that must be echoed back with the call (e.g. Gemini `thoughtSignature`).
    boost::json::object provider_data;
};

/// The result of one tool call, sent back to the model.
struct ToolResult {
    std::string call_id;   ///< id of the ToolCall this answers
    std::string name;      ///< tool name (Gemini and Ollama correlate by name)
    std::string content;   ///< result text (JSON for structured results, the message for errors)
    bool is_error = false; ///< true when the call failed (contract, exception, unknown tool, timeout)
};

/// One entry of the conversation transcript.
struct Message {
    enum class Role { user, assistant, tool };
    Role role = Role::user;
    std::string text;                      ///< user text, or assistant text (may be empty)
    std::vector<ToolCall> tool_calls;      ///< assistant only: the calls it asked for
    std::vector<ToolResult> tool_results;  ///< tool only: one result per call of the preceding turn
};

/// A tool as declared to the model.
struct ToolSpec {
    std::string name;
    std::string description;
    /// JSON Schema of the arguments (an object schema); shared, not copied, per request. Never null.
    std::shared_ptr<const boost::json::object> parameters;
};

/// The structured output a typed command asks for.
struct OutputSpec {
    std::string name;             ///< schema name (tool-name characters only), e.g. "Invoice"
    boost::json::object schema;   ///< strict JSON Schema; root is always an object
    bool wrapped = false;         ///< true when the real output is the root's "value" property
    /// `schema` as JSON text, set once for a command definition (whose spec is then immutable) so
    /// adapters splice the text into each request body instead of copying the tree. Leave it empty
    /// when building or changing a spec yourself: adapters then serialise `schema`.
    std::string schema_json;
};

/// Whether the model may call tools in this request.
enum class ToolChoice { automatic, none };

/// A provider-neutral request for one model turn.
struct ModelRequest {
    std::string model;
    std::optional<std::string> system;
    std::vector<Message> messages;
    std::vector<ToolSpec> tools;
    ToolChoice tool_choice = ToolChoice::automatic;  ///< `none` keeps tools declared but forbids calls
    /// Set for typed commands. Shared with the command definition: the schema is not copied per request.
    std::shared_ptr<const OutputSpec> output;
    std::optional<double> temperature;
    std::optional<int> max_tokens;
    boost::json::object extra;   ///< provider-specific fields merged into the request body as-is
    bool stream = false;         ///< set by the engine when the stream form is used
    /// Extra HTTP headers for this request (e.g. W3C `traceparent`); never logged.
    std::vector<std::pair<std::string, std::string>> headers;
    /// Called before each transport-level retry of this request: retry number (from 1), the delay
    /// about to be waited, and what failed. May be empty.
    std::function<void(int, std::chrono::milliseconds, const Diagnostics&)> on_retry;
};

/// Token counts of one reply (or summed over a run). Zero means "not reported".
struct Usage {
    std::int64_t input_tokens = 0;      ///< all input tokens, cached ones included
    std::int64_t output_tokens = 0;     ///< all output tokens, reasoning ones included
    std::int64_t cached_tokens = 0;     ///< subset of input_tokens served from a prompt cache
    std::int64_t reasoning_tokens = 0;  ///< subset of output_tokens spent on reasoning
    std::int64_t total() const noexcept { return input_tokens + output_tokens; }
    Usage& operator+=(const Usage& other) noexcept;
};

/// Why the model stopped, normalised across providers.
enum class FinishReason { stop, length, tool_calls, content_filter, error, other };

/// Stable lower-case name of a FinishReason ("stop", "tool_calls", ...).
std::string_view to_string(FinishReason reason) noexcept;

/// One complete model reply.
struct ModelReply {
    std::string text;                  ///< concatenated assistant text
    std::vector<ToolCall> tool_calls;  ///< calls the model asked for, in order
    Usage usage;
    FinishReason finish = FinishReason::stop;
    std::string raw_finish_reason;     ///< the provider's own stop value, for diagnostics
    std::string request_id;            ///< provider request id, when one was sent
    std::string model;                 ///< model that answered, when reported
    int http_status = 0;               ///< HTTP status of the exchange (0 for in-process providers)
    std::size_t bytes_sent = 0;        ///< request body size
    std::size_t bytes_received = 0;    ///< response body size
};

/// A reply arriving incrementally. Pull text deltas with next(); once it returns std::nullopt the reply
/// is complete and final() holds the whole of it (text, tool calls, usage, finish reason).
///
/// Errors (an error event inside the stream, a stream cut mid-way, an idle timeout) are thrown from
/// next() as CommandError. Destroying the stream before the end closes the underlying connection.
/// Not thread-safe: one consumer at a time.
class ReplyStream {
public:
    virtual ~ReplyStream() = default;
    /// The next text delta, or std::nullopt at the end. Honours per-operation cancellation.
    virtual boost::asio::awaitable<std::optional<std::string>> next() = 0;
    /// The accumulated reply; complete after next() returned std::nullopt.
    virtual const ModelReply& final() const = 0;
};

/// What a provider adapter can do; the engine checks before sending.
struct ProviderCapabilities {
    bool streaming = true;             ///< stream() is supported
    bool streaming_with_tools = true;  ///< tool calls can be delivered while streaming
    bool structured_output = true;     ///< OutputSpec is honoured natively
};

/// A model backend. Implementations must be safe to call from several coroutines at once.
///
/// Both operations throw CommandError (kind and Diagnostics filled in) on failure, honour Asio
/// per-operation cancellation (throwing CommandError of kind `cancelled` or the Asio system_error),
/// and read `request` only until they first suspend or return: the engine keeps it alive throughout,
/// but implementations must not hold a reference to it after the operation completes.
class Provider {
public:
    virtual ~Provider() = default;
    /// Adapter name for diagnostics and metrics, e.g. "openai", "anthropic", "scripted".
    virtual std::string_view name() const noexcept = 0;
    virtual ProviderCapabilities capabilities() const noexcept { return {}; }
    /// Sends one request and waits for the whole reply.
    virtual boost::asio::awaitable<ModelReply> complete(const ModelRequest& request) = 0;
    /// Sends one request and returns as soon as the reply starts streaming.
    virtual boost::asio::awaitable<std::unique_ptr<ReplyStream>> stream(const ModelRequest& request) = 0;
};

}  // namespace alloy
