// Provider wire formats for the mock server: request → Transcript, Reply → JSON body or stream events,
// and provider-shaped error bodies. Pure functions, no I/O.
#pragma once

#include "mock/script.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alloy::mock::detail {

enum class Format { chat, responses, anthropic, gemini, ollama };

/// The format served at `path` (query already stripped), or nullopt for an unknown path.
std::optional<Format> format_for_path(std::string_view path);

/// Per-request data the renderers need besides the Transcript.
struct RequestInfo {
    std::uint64_t seq = 0;      ///< request number: makes ids unique within one server
    std::int64_t created = 0;   ///< unix seconds
    std::string model;          ///< from the body, or the Gemini path
    bool gemini_sse = true;     ///< Gemini stream framing: SSE (alt=sse) or one JSON array
};

/// An error to report in the provider's shape.
struct WireError {
    int status = 400;
    std::string type;     ///< empty: the default for the status and format
    std::string code;
    std::string message;  ///< empty: a default for the status
    std::optional<std::chrono::milliseconds> retry_after;  ///< Gemini RetryInfo on 429
};

/// Fills `out` from the request body. Returns the 400 error to answer instead when the body lacks what
/// the real service requires (or, for Gemini, when a replayed function call lacks its thought signature).
std::optional<WireError> parse_request(Format f, const boost::json::object& body, std::string_view target,
                                       Transcript& out);

/// The non-streaming JSON body.
std::string render_json(Format f, const Transcript& t, const Reply& r, const RequestInfo& info);

/// The stream, one framed element per event (SSE event with its blank line, NDJSON line, or a Gemini
/// array element). Gemini JSON-array framing is completed by frame_gemini_array.
std::vector<std::string> render_stream(Format f, const Transcript& t, const Reply& r, const RequestInfo& info);

/// Index of the first event after which an in-stream error or a malformed event is inserted.
std::size_t first_content_event(Format f, const std::vector<std::string>& events);

/// Provider-shaped error body for an HTTP error response.
std::string error_body(Format f, const WireError& e, const RequestInfo& info);

/// Provider-shaped in-stream error event(s) (for Responses: `error` then `response.failed`).
/// `sequence_number` continues the Responses numbering.
std::vector<std::string> stream_error_events(Format f, const WireError& e, const RequestInfo& info,
                                             std::size_t sequence_number);

/// A framed stream event whose JSON payload is broken.
std::string malformed_event(Format f, const RequestInfo& info);

/// A non-stream body that starts like the real one but is not valid JSON.
std::string malformed_body(Format f);

/// Content type of a stream in format `f`.
std::string_view stream_content_type(Format f, const RequestInfo& info);

/// Wraps Gemini array elements ("[" + elements joined by "," + "]") in place, when not SSE.
void frame_gemini_array(std::vector<std::string>& events);

// Shared helpers of the format implementations.
std::string sse_data(const boost::json::object& payload);
std::string sse_event(std::string_view name, const boost::json::object& payload);
/// Text of an OpenAI-style content value: a string, or parts with "text" (joined).
std::string content_text(const boost::json::value& content, bool* has_text = nullptr);
/// The value at o[k1][k2]..., or null when a step is missing or not an object.
const boost::json::value* find_path(const boost::json::object& o, std::initializer_list<std::string_view> keys);
/// The default provider error type for a status.
std::string default_error_type(Format f, int status);
std::string default_error_message(int status);

// Per-format entry points (one source file each).
std::optional<WireError> parse_chat(const boost::json::object& body, Transcript& out);
std::string render_chat_json(const Transcript& t, const Reply& r, const RequestInfo& info);
std::vector<std::string> render_chat_stream(const Transcript& t, const Reply& r, const RequestInfo& info);

std::optional<WireError> parse_responses(const boost::json::object& body, Transcript& out);
std::string render_responses_json(const Transcript& t, const Reply& r, const RequestInfo& info);
std::vector<std::string> render_responses_stream(const Transcript& t, const Reply& r, const RequestInfo& info);
std::vector<std::string> responses_stream_error(const WireError& e, const RequestInfo& info, std::size_t seq);

std::optional<WireError> parse_anthropic(const boost::json::object& body, Transcript& out);
std::string render_anthropic_json(const Transcript& t, const Reply& r, const RequestInfo& info);
std::vector<std::string> render_anthropic_stream(const Transcript& t, const Reply& r, const RequestInfo& info);

std::optional<WireError> parse_gemini(const boost::json::object& body, Transcript& out);
std::string render_gemini_json(const Transcript& t, const Reply& r, const RequestInfo& info);
std::vector<std::string> render_gemini_stream(const Transcript& t, const Reply& r, const RequestInfo& info);

std::optional<WireError> parse_ollama(const boost::json::object& body, Transcript& out);
std::string render_ollama_json(const Transcript& t, const Reply& r, const RequestInfo& info);
std::vector<std::string> render_ollama_stream(const Transcript& t, const Reply& r, const RequestInfo& info);

}  // namespace alloy::mock::detail
