// Sans-IO provider adapters: the mapping between the provider-neutral model types and one wire format.
//
// An adapter builds the HTTP request, parses a whole response body, parses an error response, and
// creates a stream state machine that is fed decoded stream events. It performs no I/O, so every
// mapping is tested with plain strings; HttpProvider supplies the transport. Internal header.
#pragma once

#include "http/client.hpp"

#include <alloy/errors.hpp>
#include <alloy/provider.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace alloy::providers {

/// Where and as whom an adapter talks: decided by the router from settings and environment.
struct Endpoint {
    std::string model;     ///< default model id when ModelRequest::model is empty
    std::string base_url;  ///< provider base URL without a trailing slash
    std::string api_key;   ///< may be empty for keyless local servers; never logged
};

/// How a streamed body is framed.
enum class Framing { sse, ndjson };

/// Incremental state of one streamed reply, fed with decoded events in arrival order.
class StreamState {
public:
    virtual ~StreamState() = default;
    /// Consumes one event: an SSE event (`event` name may be empty) or, for NDJSON, one line in `data`.
    /// Appends the text deltas it carries to `deltas`. Throws CommandError(stream) for an error event
    /// and CommandError(protocol) for a payload that is not the expected JSON.
    virtual void on_event(std::string_view event, std::string_view data, std::vector<std::string>& deltas) = 0;
    /// Called once the body has ended: returns the accumulated reply, or throws CommandError(stream)
    /// when the stream ended before the provider's terminal event.
    virtual ModelReply finish() = 0;
};

/// One wire format. Stateless and immutable after construction: safe to share between coroutines.
class Adapter {
public:
    virtual ~Adapter() = default;
    /// Adapter name for diagnostics: "openai", "openai-chat", "anthropic", "gemini", "ollama".
    virtual std::string_view name() const noexcept = 0;
    virtual ProviderCapabilities capabilities() const noexcept { return {}; }
    virtual Framing framing() const noexcept { return Framing::sse; }
    /// Builds the HTTP request (URL, headers, JSON body) for `request`; `request.stream` picks the
    /// streaming form. Throws ConfigurationError for requests this wire format cannot express.
    virtual http::Request build_request(const ModelRequest& request) const = 0;
    /// Parses a successful (2xx) whole response. Throws CommandError(protocol) for malformed bodies.
    virtual ModelReply parse_reply(const http::Headers& headers, std::string_view body) const = 0;
    /// Maps an error response to Diagnostics (provider error, request id, retry-after, retryable).
    virtual Diagnostics parse_error(int status, const http::Headers& headers, std::string_view body) const = 0;
    /// Starts the state machine for a streamed 2xx response.
    virtual std::unique_ptr<StreamState> start_stream(const http::Headers& headers) const = 0;
};

}  // namespace alloy::providers
