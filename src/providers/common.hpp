// Helpers shared by the provider adapters: tolerant JSON access, request assembly, error mapping.
// Internal header.
#pragma once

#include "http/client.hpp"
#include "providers/adapter.hpp"

#include <alloy/errors.hpp>
#include <alloy/provider.hpp>
#include <alloy/schema.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace alloy::providers::detail {

/// Marker in ToolCall::provider_data for ids invented locally (never echoed to providers that
/// correlate by name when the id was absent).
inline constexpr std::string_view synthetic_id_key = "alloy_synthetic_id";

/// At most `max` bytes of `text` for error messages, with "..." when cut.
std::string snippet(std::string_view text, std::size_t max = 200);

/// Arena size for request bodies: a typical request with an output schema and a few tools fits.
using RequestArena = alloy::detail::JsonArena<8192>;
/// Arena size for a parsed reply or stream event.
using ReplyArena = alloy::detail::JsonArena<4096>;

/// Parses a JSON body that must be an object into `sp` (which must outlive the result); throws
/// CommandError(protocol) naming the provider and showing a snippet otherwise.
boost::json::object parse_object(std::string_view body, std::string_view provider, std::string_view what,
                                 boost::json::storage_ptr sp);

/// Tolerant accessors: a missing key or a value of another type yields the empty/zero/null result.
const boost::json::object* get_object(const boost::json::object& o, std::string_view key);
const boost::json::array* get_array(const boost::json::object& o, std::string_view key);
std::string_view get_string(const boost::json::object& o, std::string_view key);
std::int64_t get_int(const boost::json::object& o, std::string_view key);
/// A string, or an integer rendered as text (error codes come in both forms).
std::string get_code(const boost::json::object& o, std::string_view key);

/// Compact JSON text of a value.
std::string to_json(const boost::json::value& v);

/// Tool-call arguments as a JSON object in `sp` for wire formats that send objects; `{}` when the text
/// is not a JSON object (the model's invalid arguments cannot be replayed as an object).
boost::json::object arguments_object(std::string_view arguments, boost::json::storage_ptr sp);

/// A tool result as a JSON value in `sp`: the parsed JSON when the text is JSON, else the text as a string.
boost::json::value result_value(std::string_view content, boost::json::storage_ptr sp);

/// Merges `extra` into the top level of `body`, key-wise, overriding existing keys.
void merge_extra(boost::json::object& body, const boost::json::object& extra);

/// `base` + `path` with exactly one slash between them.
std::string join_url(std::string_view base, std::string_view path);

/// A body member whose value is JSON text already (an output schema serialised once per command
/// definition), spliced into the serialised body instead of being copied into its tree.
struct RawMember {
    std::string_view key;
    std::string_view value;  ///< JSON text
};

/// Compact JSON text of a request body, plus `raw` as a last member unless the body has that key
/// already (set by `extra`, which overrides the adapter's fields).
std::string serialize_body(const boost::json::object& body, const RawMember* raw = nullptr);

/// Appends `text` as a JSON string literal, quotes included (control characters as \u00XX).
void append_json_quoted(std::string& out, std::string_view text);

/// serialize_body() with the output-format member `key` spliced in as
/// `prefix` + quoted `output.name` + `,"schema":` + `output.schema_json` + `suffix`.
std::string serialize_with_output(const boost::json::object& body, std::string_view key, std::string_view prefix,
                                  const OutputSpec& output, std::string_view suffix);

/// OpenAI-style function declarations (`{"type":"function","function":{name, description, parameters}}`),
/// as Chat Completions and Ollama take them, in `sp`.
boost::json::array function_tools(const std::vector<ToolSpec>& tools, const boost::json::storage_ptr& sp);

/// A POST request carrying `body` (JSON text) with the usual content headers and `Accept: accept`.
/// `more_headers` is how many headers the caller will add (room is reserved for them).
http::Request json_request(std::string url, std::string body, std::string_view accept, std::size_t more_headers = 2);

/// The Accept value of the OpenAI-style and Anthropic endpoints: SSE when streaming, else JSON.
std::string_view sse_or_json(bool stream);

/// json_request plus `Authorization: Bearer <api_key>` when the key is not empty.
http::Request bearer_json_request(std::string url, std::string body, std::string_view accept,
                                  std::string_view api_key);

/// The model id of a request: ModelRequest::model, else the endpoint's.
std::string model_of(const ModelRequest& request, const Endpoint& endpoint);

/// True for OpenAI reasoning models (o-series, gpt-5*), which reject `temperature`.
bool is_openai_reasoning_model(std::string_view model);

/// A fresh call id such as "call_3f9a0c1b2d4e5f60" (unique within the process with high probability).
std::string synthesize_call_id();

/// Gives every call a non-empty id that is unique within `calls`, marking invented ones.
void ensure_call_ids(std::vector<ToolCall>& calls);

/// True when the call's id was invented locally.
bool has_synthetic_id(const ToolCall& call);

/// First header found among `names`, or "".
std::string first_header(const http::Headers& headers, std::initializer_list<std::string_view> names);

/// Diagnostics common to every provider's error response: status, provider, request id from the given
/// headers, retry-after from `retry-after-ms` / `retry-after`. `retryable` is left for finish_diagnostics.
Diagnostics base_diagnostics(std::string_view provider, int status, const http::Headers& headers,
                             std::initializer_list<std::string_view> request_id_headers);

/// Sets `retryable` from the status classifier and the `x-should-retry` header.
void finish_diagnostics(Diagnostics& diag, const http::Headers& headers);

/// Maps an OpenAI-style error response (`{"error":{message,type,param,code}}`, `code` a string or an
/// integer, or `{"error":"text"}`, or plain text) to Diagnostics; used by both OpenAI adapters and
/// every OpenAI-compatible server.
Diagnostics parse_openai_style_error(std::string_view provider, int status, const http::Headers& headers,
                                     std::string_view body);

/// True for in-stream error names that denote a transient condition (server error, overload, rate limit).
bool is_transient_error_name(std::string_view type_or_code);

/// Throws CommandError(stream) for an error reported inside a 200 stream.
[[noreturn]] void throw_stream_error(Diagnostics diag);

/// Throws CommandError(stream) for a stream that ended before its terminal event.
[[noreturn]] void throw_truncated_stream(std::string_view provider, std::string_view expected);

}  // namespace alloy::providers::detail
