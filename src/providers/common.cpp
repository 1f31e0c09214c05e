#include "providers/common.hpp"

#include "engine/retry_policy.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

#include <atomic>
#include <cctype>
#include <random>
#include <unordered_set>

namespace alloy::providers::detail {

std::string snippet(std::string_view text, std::size_t max) {
    if (text.size() <= max) return std::string(text);
    return std::string(text.substr(0, max)) + "...";
}

boost::json::object parse_object(std::string_view body, std::string_view provider, std::string_view what,
                                 boost::json::storage_ptr sp) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(body, ec, std::move(sp));
    if (ec || !value.is_object()) {
        Diagnostics diag;
        diag.provider = std::string(provider);
        diag.message = snippet(body);
        throw CommandError(ErrorKind::protocol,
                           std::string(provider) + " returned " + std::string(what) +
                               (ec ? " that is not valid JSON" : " that is not a JSON object") + ": " +
                               snippet(body),
                           std::move(diag));
    }
    // Moving within the same storage steals the tree; nothing is copied.
    return std::move(value.as_object());
}

const boost::json::object* get_object(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v ? v->if_object() : nullptr;
}

const boost::json::array* get_array(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v ? v->if_array() : nullptr;
}

std::string_view get_string(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string()) return {};
    const auto& s = v->get_string();
    return {s.data(), s.size()};
}

std::int64_t get_int(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
    return 0;
}

std::string get_code(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v) return {};
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64()) return std::to_string(v->get_int64());
    if (v->is_uint64()) return std::to_string(v->get_uint64());
    return {};
}

std::string to_json(const boost::json::value& v) { return boost::json::serialize(v); }

boost::json::object arguments_object(std::string_view arguments, boost::json::storage_ptr sp) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(arguments, ec, sp);
    if (ec || !value.is_object()) return boost::json::object(std::move(sp));
    return std::move(value.as_object());
}

boost::json::value result_value(std::string_view content, boost::json::storage_ptr sp) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(content, ec, sp);
    if (ec) return boost::json::value(boost::json::string_view(content.data(), content.size()), std::move(sp));
    return value;
}

void merge_extra(boost::json::object& body, const boost::json::object& extra) {
    for (const auto& entry : extra) body[entry.key()] = entry.value();
}

std::string join_url(std::string_view base, std::string_view path) {
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    std::string url(base);
    url += '/';
    url += path;
    return url;
}

std::string serialize_body(const boost::json::object& body, const RawMember* raw) {
    const bool splice = raw && !body.contains(raw->key);
    const std::size_t extra = splice ? raw->key.size() + raw->value.size() + 8 : 0;
    // Serialised through a stack buffer, so the string is allocated once at its final size: request
    // bodies stay in memory for the whole request, in every in-flight command.
    boost::json::serializer serializer;
    serializer.reset(&body);
    char buffer[4096];
    std::string text;
    std::string_view piece = serializer.read(buffer, sizeof buffer);
    text.reserve(piece.size() + extra);
    text.append(piece);
    while (!serializer.done()) text.append(serializer.read(buffer, sizeof buffer));
    if (!splice) return text;
    // text is "{...}": the member goes before the closing brace, after a comma unless the body is empty.
    text.pop_back();
    if (text.size() > 1) text += ',';
    append_json_quoted(text, raw->key);
    text += ':';
    text += raw->value;
    text += '}';
    return text;
}

std::string serialize_with_output(const boost::json::object& body, std::string_view key, std::string_view prefix,
                                  const OutputSpec& output, std::string_view suffix) {
    constexpr std::string_view schema_key = R"(,"schema":)";
    std::string value;
    value.reserve(prefix.size() + output.name.size() + 2 + schema_key.size() + output.schema_json.size() +
                  suffix.size());
    value += prefix;
    append_json_quoted(value, output.name);
    value += schema_key;
    value += output.schema_json;
    value += suffix;
    const RawMember member{key, value};
    return serialize_body(body, &member);
}

boost::json::array function_tools(const std::vector<ToolSpec>& tools, const boost::json::storage_ptr& sp) {
    boost::json::array out(sp);
    out.reserve(tools.size());
    for (const auto& tool : tools) {
        out.push_back(boost::json::object(
            {{"type", "function"},
             {"function", boost::json::object({{"name", tool.name},
                                               {"description", tool.description},
                                               {"parameters", *tool.parameters}},
                                              sp)}},
            sp));
    }
    return out;
}

void append_json_quoted(std::string& out, std::string_view text) {
    constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20) {
            out += "\\u00";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
}

http::Request json_request(std::string url, std::string body, std::string_view accept, std::size_t more_headers) {
    http::Request request;
    request.method = "POST";
    request.url = std::move(url);
    // Sized exactly: the request lives as long as its exchange, in every in-flight command. The HTTP
    // client adds Host, User-Agent and Content-Length itself.
    request.headers.items.reserve(2 + more_headers);
    request.headers.items.emplace_back("Content-Type", "application/json");
    request.headers.items.emplace_back("Accept", std::string(accept));
    request.body = std::move(body);
    return request;
}

std::string_view sse_or_json(bool stream) { return stream ? "text/event-stream" : "application/json"; }

http::Request bearer_json_request(std::string url, std::string body, std::string_view accept,
                                  std::string_view api_key) {
    http::Request request = json_request(std::move(url), std::move(body), accept, api_key.empty() ? 0 : 1);
    if (!api_key.empty()) {
        std::string credential;
        credential.reserve(7 + api_key.size());
        credential += "Bearer ";
        credential += api_key;
        request.headers.set("Authorization", std::move(credential));
    }
    return request;
}

std::string model_of(const ModelRequest& request, const Endpoint& endpoint) {
    return request.model.empty() ? endpoint.model : request.model;
}

bool is_openai_reasoning_model(std::string_view model) {
    if (model.rfind("gpt-5", 0) == 0) return true;
    return model.size() >= 2 && model[0] == 'o' && std::isdigit(static_cast<unsigned char>(model[1]));
}

std::string synthesize_call_id() {
    // Seeded once per thread from the OS; a counter keeps ids distinct even on identical draws.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static std::atomic<std::uint64_t> counter{0};
    const std::uint64_t bits = rng() ^ (counter.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B97F4A7C15ULL);
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "call_";
    for (int shift = 60; shift >= 0; shift -= 4) id += hex[(bits >> shift) & 0xF];
    return id;
}

void ensure_call_ids(std::vector<ToolCall>& calls) {
    std::unordered_set<std::string> seen;
    for (auto& call : calls) {
        if (call.id.empty() || seen.count(call.id) != 0) {
            call.id = synthesize_call_id();
            call.provider_data[synthetic_id_key] = true;
        }
        seen.insert(call.id);
    }
}

bool has_synthetic_id(const ToolCall& call) {
    const auto* v = call.provider_data.if_contains(synthetic_id_key);
    return v && v->is_bool() && v->get_bool();
}

std::string first_header(const http::Headers& headers, std::initializer_list<std::string_view> names) {
    for (auto name : names) {
        if (auto value = headers.find(name)) return std::string(*value);
    }
    return {};
}

Diagnostics base_diagnostics(std::string_view provider, int status, const http::Headers& headers,
                             std::initializer_list<std::string_view> request_id_headers) {
    Diagnostics diag;
    diag.http_status = status;
    diag.provider = std::string(provider);
    diag.request_id = first_header(headers, request_id_headers);
    diag.retry_after = retry::parse_retry_after(headers.find("retry-after-ms"), headers.find("retry-after"));
    return diag;
}

void finish_diagnostics(Diagnostics& diag, const http::Headers& headers) {
    diag.retryable = retry::apply_should_retry_header(
        retry::is_retryable_status(diag.http_status, diag.error_code, diag.error_type),
        headers.find("x-should-retry"));
}

Diagnostics parse_openai_style_error(std::string_view provider, int status, const http::Headers& headers,
                                     std::string_view body) {
    Diagnostics diag = base_diagnostics(provider, status, headers, {"x-request-id", "x-generation-id"});
    ReplyArena arena;
    boost::system::error_code ec;
    const boost::json::value value = boost::json::parse(body, ec, arena.storage());
    const auto* root = ec ? nullptr : value.if_object();
    if (const auto* error = root ? get_object(*root, "error") : nullptr) {
        diag.error_type = std::string(get_string(*error, "type"));
        diag.error_code = get_code(*error, "code");
        diag.message = std::string(get_string(*error, "message"));
    } else if (root && !get_string(*root, "error").empty()) {
        diag.message = std::string(get_string(*root, "error"));
    } else if (root && !get_string(*root, "message").empty()) {
        diag.message = std::string(get_string(*root, "message"));
    } else {
        diag.message = snippet(body);
    }
    finish_diagnostics(diag, headers);
    return diag;
}

bool is_transient_error_name(std::string_view name) {
    for (std::string_view transient :
         {"server_error", "rate_limit_exceeded", "rate_limit_error", "overloaded_error", "api_error",
          "timeout_error", "internal_error", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "INTERNAL",
          "DEADLINE_EXCEEDED", "429", "500", "502", "503", "504", "529"}) {
        if (name == transient) return true;
    }
    return false;
}

void throw_stream_error(Diagnostics diag) {
    std::string message = diag.provider + " stream reported an error";
    const std::string& label = !diag.error_type.empty() ? diag.error_type : diag.error_code;
    if (!label.empty()) message += " " + label;
    if (!diag.message.empty()) message += ": " + diag.message;
    // 429 is transient, so a false verdict here means the provider code marks the failure permanent.
    const bool permanent = !retry::is_retryable_status(429, diag.error_code, diag.error_type);
    diag.retryable = !permanent && (diag.retryable || is_transient_error_name(diag.error_type) ||
                                    is_transient_error_name(diag.error_code));
    throw CommandError(ErrorKind::stream, message, std::move(diag));
}

void throw_truncated_stream(std::string_view provider, std::string_view expected) {
    Diagnostics diag;
    diag.provider = std::string(provider);
    diag.phase = "stream";
    diag.retryable = true;
    throw CommandError(ErrorKind::stream,
                       std::string(provider) + " stream ended before " + std::string(expected), std::move(diag));
}

}  // namespace alloy::providers::detail
