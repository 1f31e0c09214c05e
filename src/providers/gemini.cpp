#include "providers/gemini.hpp"

#include "engine/retry_policy.hpp"
#include "providers/common.hpp"

#include <boost/json/parse.hpp>

#include <unordered_map>

namespace alloy::providers {
namespace {

using boost::json::array;
using boost::json::object;
using namespace detail;

constexpr std::string_view provider_name = "gemini";

// The body is built in an arena and serialised before the arena dies.
std::string build_body(const ModelRequest& request) {
    RequestArena arena;
    const boost::json::storage_ptr& sp = arena.storage();
    // A `{"text": ...}` part.
    auto text_part = [&sp](const std::string& text) { return object({{"text", text}}, sp); };

    object body(sp);
    if (request.system) body["systemInstruction"] = object({{"parts", array({text_part(*request.system)}, sp)}}, sp);

    // Results are matched to their calls by id; calls whose id was invented locally are sent without it.
    std::unordered_map<std::string_view, const ToolCall*> calls_by_id;
    for (const auto& message : request.messages) {
        for (const auto& call : message.tool_calls) calls_by_id[call.id] = &call;
    }

    array contents(sp);
    for (const auto& message : request.messages) {
        switch (message.role) {
        case Message::Role::user:
            contents.push_back(object({{"role", "user"}, {"parts", array({text_part(message.text)}, sp)}}, sp));
            break;
        case Message::Role::assistant: {
            array parts(sp);
            if (!message.text.empty()) parts.push_back(text_part(message.text));
            for (const auto& call : message.tool_calls) {
                object function_call({{"name", call.name}, {"args", arguments_object(call.arguments, sp)}}, sp);
                if (!has_synthetic_id(call)) function_call["id"] = call.id;
                object part({{"functionCall", std::move(function_call)}}, sp);
                // Gemini 3 rejects a replayed call without its thought signature.
                if (const auto* sig = call.provider_data.if_contains("thoughtSignature")) part["thoughtSignature"] = *sig;
                parts.push_back(std::move(part));
            }
            contents.push_back(object({{"role", "model"}, {"parts", std::move(parts)}}, sp));
            break;
        }
        case Message::Role::tool: {
            array parts(sp);
            for (const auto& result : message.tool_results) {
                object response(sp);
                if (result.is_error) response["error"] = result.content;
                else response["output"] = result_value(result.content, sp);
                object function_response({{"name", result.name}, {"response", std::move(response)}}, sp);
                auto it = calls_by_id.find(result.call_id);
                const bool synthetic = it != calls_by_id.end() && has_synthetic_id(*it->second);
                if (!synthetic && !result.call_id.empty()) function_response["id"] = result.call_id;
                if (result.name.empty() && it != calls_by_id.end()) function_response["name"] = it->second->name;
                parts.push_back(object({{"functionResponse", std::move(function_response)}}, sp));
            }
            contents.push_back(object({{"role", "user"}, {"parts", std::move(parts)}}, sp));
            break;
        }
        }
    }
    body["contents"] = std::move(contents);

    if (!request.tools.empty()) {
        array declarations(sp);
        for (const auto& tool : request.tools) {
            declarations.push_back(object({{"name", tool.name},
                                           {"description", tool.description},
                                           {"parametersJsonSchema", *tool.parameters}},
                                          sp));
        }
        body["tools"] = array({object({{"functionDeclarations", std::move(declarations)}}, sp)}, sp);
        if (request.tool_choice == ToolChoice::none) {
            body["toolConfig"] = object({{"functionCallingConfig", object({{"mode", "NONE"}}, sp)}}, sp);
        }
    }
    object generation(sp);
    if (request.temperature) generation["temperature"] = *request.temperature;
    if (request.max_tokens) generation["maxOutputTokens"] = *request.max_tokens;
    if (request.output) {
        generation["responseMimeType"] = "application/json";
        generation["responseJsonSchema"] = request.output->schema;
    }
    if (!generation.empty()) body["generationConfig"] = std::move(generation);
    merge_extra(body, request.extra);
    return serialize_body(body);
}

Usage parse_usage(const object& usage) {
    Usage u;
    u.input_tokens = get_int(usage, "promptTokenCount") + get_int(usage, "toolUsePromptTokenCount");
    u.reasoning_tokens = get_int(usage, "thoughtsTokenCount");
    u.output_tokens = get_int(usage, "candidatesTokenCount") + u.reasoning_tokens;
    u.cached_tokens = get_int(usage, "cachedContentTokenCount");
    return u;
}

FinishReason map_finish(std::string_view raw, bool has_calls) {
    if (raw == "STOP") return has_calls ? FinishReason::tool_calls : FinishReason::stop;
    if (raw == "MAX_TOKENS") return FinishReason::length;
    if (raw == "SAFETY" || raw == "RECITATION" || raw == "BLOCKLIST" || raw == "PROHIBITED_CONTENT" ||
        raw == "SPII" || raw.rfind("IMAGE_", 0) == 0) {
        return FinishReason::content_filter;
    }
    return has_calls ? FinishReason::tool_calls : FinishReason::other;
}

Diagnostics error_fields(const object& root, int status) {
    Diagnostics diag;
    diag.provider = std::string(provider_name);
    diag.http_status = status;
    const auto* error = get_object(root, "error");
    if (!error) return diag;
    diag.error_type = std::string(get_string(*error, "status"));
    diag.message = std::string(get_string(*error, "message"));
    if (const auto* details = get_array(*error, "details")) {
        for (const auto& detail_value : *details) {
            const auto* detail = detail_value.if_object();
            if (!detail) continue;
            const auto type = get_string(*detail, "@type");
            if (type.find("google.rpc.RetryInfo") != std::string_view::npos) {
                if (auto delay = retry::parse_google_duration(get_string(*detail, "retryDelay"))) diag.retry_after = delay;
            } else if (type.find("google.rpc.ErrorInfo") != std::string_view::npos) {
                diag.error_code = std::string(get_string(*detail, "reason"));
            }
        }
    }
    return diag;
}

/// Accumulates candidate chunks; used for whole replies (one chunk) and streams (many).
class Accumulator {
public:
    void add(const object& chunk, std::vector<std::string>* deltas) {
        if (auto model = get_string(chunk, "modelVersion"); !model.empty()) reply_.model = std::string(model);
        if (auto id = get_string(chunk, "responseId"); !id.empty()) response_id_ = std::string(id);
        if (const auto* usage = get_object(chunk, "usageMetadata")) reply_.usage = parse_usage(*usage);  // last wins
        if (const auto* feedback = get_object(chunk, "promptFeedback")) {
            if (auto reason = get_string(*feedback, "blockReason"); !reason.empty()) block_reason_ = std::string(reason);
        }
        const auto* candidates = get_array(chunk, "candidates");
        const auto* candidate = candidates && !candidates->empty() ? candidates->front().if_object() : nullptr;
        if (!candidate) return;
        if (const auto* content = get_object(*candidate, "content")) {
            if (const auto* parts = get_array(*content, "parts")) {
                for (const auto& part_value : *parts) {
                    if (const auto* part = part_value.if_object()) add_part(*part, deltas);
                }
            }
        }
        if (auto reason = get_string(*candidate, "finishReason"); !reason.empty()) finish_reason_ = std::string(reason);
    }

    bool ended() const { return !finish_reason_.empty() || !block_reason_.empty(); }

    ModelReply take(std::string request_id) {
        reply_.request_id = !request_id.empty() ? std::move(request_id) : response_id_;
        ensure_call_ids(reply_.tool_calls);
        if (!block_reason_.empty() && finish_reason_.empty()) {
            reply_.raw_finish_reason = "blockReason:" + block_reason_;
            reply_.finish = FinishReason::content_filter;
        } else {
            reply_.raw_finish_reason = finish_reason_;
            reply_.finish = map_finish(finish_reason_, !reply_.tool_calls.empty());
        }
        return std::move(reply_);
    }

private:
    void add_part(const object& part, std::vector<std::string>* deltas) {
        if (const auto* call = get_object(part, "functionCall")) {
            ToolCall tool_call;
            tool_call.id = std::string(get_string(*call, "id"));
            tool_call.name = std::string(get_string(*call, "name"));
            const auto* args = call->if_contains("args");
            tool_call.arguments = args ? to_json(*args) : std::string("{}");
            if (const auto* sig = part.if_contains("thoughtSignature")) tool_call.provider_data["thoughtSignature"] = *sig;
            reply_.tool_calls.push_back(std::move(tool_call));
            return;
        }
        const auto* thought = part.if_contains("thought");
        if (thought && thought->is_bool() && thought->get_bool()) return;  // thought summaries are not reply text
        const auto text = get_string(part, "text");
        if (text.empty()) return;
        reply_.text += text;
        if (deltas) deltas->emplace_back(text);
    }

    ModelReply reply_;
    std::string finish_reason_;
    std::string block_reason_;
    std::string response_id_;
};

class GeminiStream final : public StreamState {
public:
    explicit GeminiStream(std::string request_id) : request_id_(std::move(request_id)) {}

    void on_event(std::string_view, std::string_view data, std::vector<std::string>& deltas) override {
        if (data == "[DONE]") return;
        ReplyArena arena;
        const object chunk = parse_object(data, provider_name, "a stream chunk", arena.storage());
        if (chunk.contains("error")) {
            Diagnostics diag = error_fields(chunk, 200);
            if (const auto* error = get_object(chunk, "error")) diag.error_code = get_code(*error, "code");
            throw_stream_error(std::move(diag));
        }
        acc_.add(chunk, &deltas);
    }

    ModelReply finish() override {
        // Gemini ends a stream by closing it; the last chunk carries the finish reason.
        if (!acc_.ended()) throw_truncated_stream(provider_name, "a finish reason");
        return acc_.take(std::move(request_id_));
    }

private:
    Accumulator acc_;
    std::string request_id_;
};

class GeminiAdapter final : public Adapter {
public:
    explicit GeminiAdapter(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

    std::string_view name() const noexcept override { return provider_name; }

    http::Request build_request(const ModelRequest& request) const override {
        std::string_view base = endpoint_.base_url;
        while (!base.empty() && base.back() == '/') base.remove_suffix(1);
        const bool has_version = base.size() >= 7 && base.substr(base.size() - 7) == "/v1beta";
        const std::string path = std::string(has_version ? "" : "v1beta/") + "models/" + model_of(request, endpoint_) +
                                 (request.stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
        auto http_request = json_request(join_url(base, path), build_body(request), sse_or_json(request.stream), 1);
        if (!endpoint_.api_key.empty()) http_request.headers.set("x-goog-api-key", endpoint_.api_key);
        return http_request;
    }

    ModelReply parse_reply(const http::Headers& headers, std::string_view body) const override {
        ReplyArena arena;
        const object response = parse_object(body, provider_name, "a response body", arena.storage());
        Accumulator acc;
        acc.add(response, nullptr);
        return acc.take(first_header(headers, {"x-request-id"}));
    }

    Diagnostics parse_error(int status, const http::Headers& headers, std::string_view body) const override {
        Diagnostics diag = base_diagnostics(provider_name, status, headers, {"x-request-id"});
        ReplyArena arena;
        boost::system::error_code ec;
        auto value = boost::json::parse(body, ec, arena.storage());
        // Some gateways wrap the error in a one-element array.
        if (!ec && value.is_array() && !value.as_array().empty()) value = value.as_array().front();
        if (!ec && value.is_object() && get_object(value.as_object(), "error")) {
            Diagnostics fields = error_fields(value.as_object(), status);
            diag.error_type = std::move(fields.error_type);
            diag.error_code = std::move(fields.error_code);
            diag.message = std::move(fields.message);
            if (fields.retry_after) diag.retry_after = fields.retry_after;  // the header, if any, is less precise
        } else {
            diag.message = snippet(body);
        }
        finish_diagnostics(diag, headers);
        return diag;
    }

    std::unique_ptr<StreamState> start_stream(const http::Headers& headers) const override {
        return std::make_unique<GeminiStream>(first_header(headers, {"x-request-id"}));
    }

private:
    Endpoint endpoint_;
};

}  // namespace

std::unique_ptr<Adapter> make_gemini_adapter(Endpoint endpoint) {
    return std::make_unique<GeminiAdapter>(std::move(endpoint));
}

}  // namespace alloy::providers
