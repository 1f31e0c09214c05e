// Format dispatch and the pieces every format shares: routing by path, SSE framing, error shapes.
#include "mock/wire.hpp"

#include <boost/json.hpp>

namespace alloy::mock::detail {
namespace json = boost::json;

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string gemini_status(int status) {
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

// "1.5s" style duration of google.protobuf.Duration.
std::string protobuf_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    std::string s = std::to_string(ms / 1000);
    if (ms % 1000) {
        char frac[8];
        std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(ms % 1000));
        s += frac;
        while (s.back() == '0') s.pop_back();
    }
    return s + "s";
}

}  // namespace

std::optional<Format> format_for_path(std::string_view path) {
    if (ends_with(path, "/chat/completions")) return Format::chat;
    if (ends_with(path, "/responses")) return Format::responses;
    if (ends_with(path, "/api/chat")) return Format::ollama;
    if (ends_with(path, "/messages")) return Format::anthropic;
    if (path.find("/models/") != std::string_view::npos &&
        (ends_with(path, ":generateContent") || ends_with(path, ":streamGenerateContent")))
        return Format::gemini;
    return std::nullopt;
}

std::optional<WireError> parse_request(Format f, const json::object& body, std::string_view, Transcript& out) {
    switch (f) {
    case Format::chat: return parse_chat(body, out);
    case Format::responses: return parse_responses(body, out);
    case Format::anthropic: return parse_anthropic(body, out);
    case Format::gemini: return parse_gemini(body, out);
    case Format::ollama: return parse_ollama(body, out);
    }
    return std::nullopt;
}

std::string render_json(Format f, const Transcript& t, const Reply& r, const RequestInfo& info) {
    switch (f) {
    case Format::chat: return render_chat_json(t, r, info);
    case Format::responses: return render_responses_json(t, r, info);
    case Format::anthropic: return render_anthropic_json(t, r, info);
    case Format::gemini: return render_gemini_json(t, r, info);
    case Format::ollama: return render_ollama_json(t, r, info);
    }
    return {};
}

std::vector<std::string> render_stream(Format f, const Transcript& t, const Reply& r, const RequestInfo& info) {
    switch (f) {
    case Format::chat: return render_chat_stream(t, r, info);
    case Format::responses: return render_responses_stream(t, r, info);
    case Format::anthropic: return render_anthropic_stream(t, r, info);
    case Format::gemini: return render_gemini_stream(t, r, info);
    case Format::ollama: return render_ollama_stream(t, r, info);
    }
    return {};
}

std::size_t first_content_event(Format f, const std::vector<std::string>& events) {
    if (events.empty()) return 0;
    std::string_view marker;
    switch (f) {
    case Format::chat: return std::min<std::size_t>(1, events.size() - 1);  // after the role chunk
    case Format::responses: marker = ".delta\n"; break;
    case Format::anthropic: marker = "event: content_block_delta\n"; break;
    case Format::gemini:
    case Format::ollama: return 0;
    }
    for (std::size_t i = 0; i < events.size(); ++i)
        if (events[i].find(marker) != std::string::npos) return i;
    return 0;
}

std::string default_error_type(Format f, int status) {
    if (f == Format::gemini) return gemini_status(status);
    const bool anthropic = f == Format::anthropic;
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return anthropic ? "not_found_error" : "invalid_request_error";
    case 409: return anthropic ? "conflict_error" : "invalid_request_error";
    case 413: return "request_too_large";
    case 429: return anthropic ? "rate_limit_error" : "rate_limit_exceeded";
    case 504: return anthropic ? "timeout_error" : "server_error";
    case 529: return anthropic ? "overloaded_error" : "server_error";
    default: return status >= 500 ? (anthropic ? "api_error" : "server_error") : "invalid_request_error";
    }
}

std::string default_error_message(int status) {
    switch (status) {
    case 400: return "Bad request (mock).";
    case 401: return "Invalid authentication credentials (mock).";
    case 403: return "Permission denied (mock).";
    case 404: return "Not found (mock).";
    case 408: return "Request timed out (mock).";
    case 409: return "Conflict (mock).";
    case 429: return "Rate limit reached (mock).";
    case 500: return "The server had an error while processing your request (mock).";
    case 502: return "Bad gateway (mock).";
    case 503: return "The service is temporarily unavailable (mock).";
    case 504: return "Gateway timeout (mock).";
    case 529: return "Overloaded";
    default: return "Mock error " + std::to_string(status) + ".";
    }
}

std::string error_body(Format f, const WireError& e, const RequestInfo& info) {
    const std::string type = e.type.empty() ? default_error_type(f, e.status) : e.type;
    const std::string message = e.message.empty() ? default_error_message(e.status) : e.message;
    switch (f) {
    case Format::chat:
    case Format::responses: {
        json::object err{{"message", message}, {"type", type}, {"param", nullptr}};
        if (e.code.empty()) err["code"] = nullptr;
        else err["code"] = e.code;
        return json::serialize(json::object{{"error", std::move(err)}});
    }
    case Format::anthropic: {
        json::object err{{"type", type}, {"message", message}};
        if (!e.code.empty()) err["details"] = json::object{{"error_code", e.code}};
        return json::serialize(json::object{
            {"type", "error"}, {"error", std::move(err)}, {"request_id", "req_mock_" + std::to_string(info.seq)}});
    }
    case Format::gemini: {
        json::object err{{"code", e.status}, {"message", message}, {"status", type}};
        if (e.status == 429) {
            const auto delay = e.retry_after.value_or(std::chrono::seconds(1));
            err["details"] = json::array{
                json::object{{"@type", "type.googleapis.com/google.rpc.QuotaFailure"},
                             {"violations", json::array{json::object{{"quotaMetric", "mock/requests"}}}}},
                json::object{{"@type", "type.googleapis.com/google.rpc.RetryInfo"}, {"retryDelay", protobuf_duration(delay)}}};
        }
        return json::serialize(json::object{{"error", std::move(err)}});
    }
    case Format::ollama: return json::serialize(json::object{{"error", message}});
    }
    return {};
}

std::vector<std::string> stream_error_events(Format f, const WireError& e, const RequestInfo& info,
                                             std::size_t sequence_number) {
    std::vector<std::string> events;
    const std::string type = e.type.empty() ? default_error_type(f, e.status) : e.type;
    const std::string message = e.message.empty() ? default_error_message(e.status) : e.message;
    switch (f) {
    case Format::chat: {
        json::object err{{"message", message}, {"type", type}, {"param", nullptr}};
        if (e.code.empty()) err["code"] = nullptr;
        else err["code"] = e.code;
        events.push_back(sse_data({{"error", std::move(err)}}));
        break;
    }
    case Format::responses: return responses_stream_error(e, info, sequence_number);
    case Format::anthropic:
        events.push_back(sse_event("error", {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}));
        break;
    case Format::gemini: {
        json::object payload{{"error", {{"code", e.status}, {"message", message}, {"status", type}}}};
        events.push_back(info.gemini_sse ? "data: " + json::serialize(payload) + "\r\n\r\n" : json::serialize(payload));
        break;
    }
    case Format::ollama: events.push_back(json::serialize(json::object{{"error", message}}) + "\n"); break;
    }
    return events;
}

std::string malformed_event(Format f, const RequestInfo& info) {
    switch (f) {
    case Format::chat: return "data: {\"id\":\"chatcmpl-mock\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"\n\n";
    case Format::responses:
        return "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\n\n";
    case Format::anthropic:
        return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\n\n";
    case Format::gemini:
        return info.gemini_sse ? "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\r\n\r\n"
                               : "{\"candidates\":[{\"content\":";
    case Format::ollama: return "{\"model\":\"mock\",\"message\":{\"role\":\"assistant\",\"content\":\"x\"\n";
    }
    return {};
}

std::string malformed_body(Format f) {
    switch (f) {
    case Format::chat: return "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":";
    case Format::responses: return "{\"id\":\"resp_mock\",\"object\":\"response\",\"output\":[{\"type\":";
    case Format::anthropic: return "{\"id\":\"msg_mock\",\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":";
    case Format::gemini: return "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":";
    case Format::ollama: return "{\"model\":\"mock\",\"message\":{\"role\":\"assistant\",\"content\":";
    }
    return {};
}

std::string_view stream_content_type(Format f, const RequestInfo& info) {
    if (f == Format::ollama) return "application/x-ndjson";
    if (f == Format::gemini && !info.gemini_sse) return "application/json; charset=UTF-8";
    return "text/event-stream; charset=utf-8";
}

const json::value* find_path(const json::object& o, std::initializer_list<std::string_view> keys) {
    const json::object* cur = &o;
    const json::value* v = nullptr;
    for (auto key : keys) {
        if (!cur) return nullptr;
        v = cur->if_contains(key);
        if (!v) return nullptr;
        cur = v->if_object();
    }
    return v;
}

std::string sse_data(const json::object& payload) { return "data: " + json::serialize(payload) + "\n\n"; }

std::string sse_event(std::string_view name, const json::object& payload) {
    std::string out = "event: ";
    out += name;
    out += "\ndata: ";
    out += json::serialize(payload);
    out += "\n\n";
    return out;
}

std::string content_text(const json::value& content, bool* has_text) {
    if (has_text) *has_text = false;
    if (content.is_string()) {
        if (has_text) *has_text = true;
        return std::string(content.as_string());
    }
    std::string out;
    auto take = [&](const json::value& part) {
        if (const auto* o = part.if_object())
            if (const auto* t = o->if_contains("text"); t && t->is_string()) {
                out += t->as_string();
                if (has_text) *has_text = true;
            }
    };
    if (content.is_array()) {
        for (const auto& p : content.as_array()) take(p);
    } else {
        take(content);
    }
    return out;
}

}  // namespace alloy::mock::detail
