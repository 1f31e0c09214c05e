#include "providers/openai_chat.hpp"

#include "providers/body_writer.hpp"
#include "providers/common.hpp"
#include "providers/openai_chat_scan.hpp"

#include <map>

namespace alloy::providers {
namespace {

using boost::json::object;
using namespace detail;

constexpr std::string_view provider_name = "openai-chat";

// The body is written as text straight from the request (no tree): this adapter is the hot path for
// OpenAI-compatible servers.
void write_messages(BodyWriter& w, const ModelRequest& request) {
    auto role_content = [&w](std::string_view role, std::string_view content) {
        w.begin_object();
        w.key("role");
        w.string(role);
        w.key("content");
        w.string(content);
        w.end_object();
    };
    w.begin_array();
    if (request.system) role_content("system", *request.system);
    for (const auto& message : request.messages) {
        switch (message.role) {
        case Message::Role::user:
            role_content("user", message.text);
            break;
        case Message::Role::assistant:
            w.begin_object();
            w.key("role");
            w.string("assistant");
            w.key("content");
            if (message.text.empty() && !message.tool_calls.empty()) w.null();
            else w.string(message.text);
            if (!message.tool_calls.empty()) {
                w.key("tool_calls");
                w.begin_array();
                for (const auto& call : message.tool_calls) {
                    w.begin_object();
                    w.key("id");
                    w.string(call.id);
                    w.key("type");
                    w.string("function");
                    w.key("function");
                    w.begin_object();
                    w.key("name");
                    w.string(call.name);
                    w.key("arguments");
                    w.string(call.arguments);
                    w.end_object();
                    w.end_object();
                }
                w.end_array();
            }
            w.end_object();
            break;
        case Message::Role::tool:
            for (const auto& result : message.tool_results) {
                w.begin_object();
                w.key("role");
                w.string("tool");
                w.key("tool_call_id");
                w.string(result.call_id);
                w.key("content");
                w.string(result.content);
                w.end_object();
            }
            break;
        }
    }
    w.end_array();
}

// `{"type":"function","function":{name, description, parameters}}` per tool; the parameter schemas
// are serialised from the shared trees, not copied.
void write_tools(BodyWriter& w, const std::vector<ToolSpec>& tools) {
    w.begin_array();
    for (const auto& tool : tools) {
        w.begin_object();
        w.key("type");
        w.string("function");
        w.key("function");
        w.begin_object();
        w.key("name");
        w.string(tool.name);
        w.key("description");
        w.string(tool.description);
        w.key("parameters");
        w.value(*tool.parameters);
        w.end_object();
        w.end_object();
    }
    w.end_array();
}

// `{"type":"json_schema","json_schema":{"name":..,"schema":..,"strict":true}}`; a command
// definition's schema text is spliced, a spec without it serialised from the tree.
void write_response_format(BodyWriter& w, const OutputSpec& output) {
    w.begin_object();
    w.key("type");
    w.string("json_schema");
    w.key("json_schema");
    w.begin_object();
    w.key("name");
    w.string(output.name);
    w.key("schema");
    if (!output.schema_json.empty()) w.raw(output.schema_json);
    else w.value(output.schema);
    w.key("strict");
    w.boolean(true);
    w.end_object();
    w.end_object();
}

std::string build_body(const ModelRequest& request, const std::string& model) {
    BodyWriter w(request.extra);
    if (w.member("model")) w.string(model);
    if (w.member("messages")) write_messages(w, request);
    if (!request.tools.empty()) {
        if (w.member("tools")) write_tools(w, request.tools);
        if (request.tool_choice == ToolChoice::none && w.member("tool_choice")) w.string("none");
    }
    if (request.output && w.member("response_format")) write_response_format(w, *request.output);
    if (request.max_tokens && w.member("max_completion_tokens")) w.integer(*request.max_tokens);
    if (request.temperature && !is_openai_reasoning_model(model) && w.member("temperature"))
        w.number(*request.temperature);
    if (request.stream) {
        if (w.member("stream")) w.boolean(true);
        if (w.member("stream_options")) {
            w.begin_object();
            w.key("include_usage");
            w.boolean(true);
            w.end_object();
        }
    }
    return w.finish();
}

Usage parse_usage(const object& usage) {
    Usage u;
    u.input_tokens = get_int(usage, "prompt_tokens");
    u.output_tokens = get_int(usage, "completion_tokens");
    if (const auto* d = get_object(usage, "prompt_tokens_details")) u.cached_tokens = get_int(*d, "cached_tokens");
    if (const auto* d = get_object(usage, "completion_tokens_details")) u.reasoning_tokens = get_int(*d, "reasoning_tokens");
    return u;
}

// Normalises finish_reason; accumulated tool calls win over "stop" (compatible servers send it).
void set_finish(ModelReply& reply, std::string raw, bool refused) {
    reply.raw_finish_reason = raw;
    if (!reply.tool_calls.empty()) reply.finish = FinishReason::tool_calls;
    else if (refused || raw == "content_filter") reply.finish = FinishReason::content_filter;
    else if (raw == "stop" || raw.empty()) reply.finish = FinishReason::stop;
    else if (raw == "length") reply.finish = FinishReason::length;
    else if (raw == "tool_calls" || raw == "function_call") reply.finish = FinishReason::other;  // no call arrived
    else if (raw == "error") reply.finish = FinishReason::error;
    else reply.finish = FinishReason::other;
}

// Arguments arrive as a JSON string; some servers send an object instead.
std::string arguments_text(const object& function) {
    const auto* v = function.if_contains("arguments");
    if (!v || v->is_null()) return {};
    if (v->is_string()) return std::string(v->get_string());
    return to_json(*v);
}

[[noreturn]] void throw_error_payload(const object& payload) {
    Diagnostics diag;
    diag.provider = std::string(provider_name);
    diag.http_status = 200;
    if (const auto* error = get_object(payload, "error")) {
        diag.error_type = std::string(get_string(*error, "type"));
        diag.error_code = get_code(*error, "code");
        diag.message = std::string(get_string(*error, "message"));
    } else {
        diag.message = std::string(get_string(payload, "error"));
    }
    throw_stream_error(std::move(diag));
}

class ChatStream final : public StreamState {
public:
    explicit ChatStream(std::string request_id) { reply_.request_id = std::move(request_id); }

    void on_event(std::string_view, std::string_view data, std::vector<std::string>& deltas) override {
        if (data == "[DONE]") {
            done_ = true;
            return;
        }
        ReplyArena arena;
        const object chunk = parse_object(data, provider_name, "a stream chunk", arena.storage());
        if (chunk.contains("error")) throw_error_payload(chunk);
        if (auto model = get_string(chunk, "model"); !model.empty()) reply_.model = std::string(model);
        if (const auto* usage = get_object(chunk, "usage")) reply_.usage = parse_usage(*usage);
        const auto* choices = get_array(chunk, "choices");
        if (!choices) return;
        for (const auto& choice_value : *choices) {
            const auto* choice = choice_value.if_object();
            if (!choice || get_int(*choice, "index") != 0) continue;  // one choice is requested
            if (const auto* delta = get_object(*choice, "delta")) {
                if (auto text = get_string(*delta, "content"); !text.empty()) {
                    reply_.text += text;
                    deltas.emplace_back(text);
                }
                if (!get_string(*delta, "refusal").empty()) refused_ = true;
                if (const auto* calls = get_array(*delta, "tool_calls")) {
                    for (const auto& call_value : *calls) {
                        if (const auto* call = call_value.if_object()) on_tool_fragment(*call);
                    }
                }
            }
            if (auto reason = get_string(*choice, "finish_reason"); !reason.empty()) finish_reason_ = std::string(reason);
        }
    }

    ModelReply finish() override {
        if (!done_ && finish_reason_.empty()) throw_truncated_stream(provider_name, "a finish reason or [DONE]");
        ensure_call_ids(reply_.tool_calls);
        set_finish(reply_, finish_reason_, refused_);
        return std::move(reply_);
    }

private:
    // Fragments are keyed by `index`; a different id at a known index starts a new call (servers that
    // number every call 0), a repeated id or name is ignored.
    void on_tool_fragment(const object& fragment) {
        const std::int64_t index = get_int(fragment, "index");
        const std::string id(get_string(fragment, "id"));
        auto it = slots_.find(index);
        if (it == slots_.end() || (!id.empty() && !reply_.tool_calls[it->second].id.empty() &&
                                   reply_.tool_calls[it->second].id != id)) {
            reply_.tool_calls.emplace_back();
            it = slots_.insert_or_assign(index, reply_.tool_calls.size() - 1).first;
        }
        ToolCall& call = reply_.tool_calls[it->second];
        if (call.id.empty()) call.id = id;
        if (const auto* function = get_object(fragment, "function")) {
            if (auto name = get_string(*function, "name"); !name.empty() && call.name.empty()) call.name = std::string(name);
            call.arguments += arguments_text(*function);
        }
    }

    ModelReply reply_;
    std::map<std::int64_t, std::size_t> slots_;  // tool_calls[].index -> position in reply_.tool_calls
    std::string finish_reason_;
    bool refused_ = false;
    bool done_ = false;
};

}  // namespace

namespace detail {

ChatReplyFields read_chat_reply_tree(const http::Headers& headers, std::string_view body) {
    ReplyArena arena;
    const object response = parse_object(body, provider_name, "a response body", arena.storage());
    if (response.contains("error")) {
        // Some compatible servers report failures with a 200 status.
        Diagnostics diag = parse_openai_style_error(provider_name, 200, headers, body);
        throw CommandError(ErrorKind::provider_status,
                           std::string(provider_name) + " returned an error: " + diag.message, std::move(diag));
    }
    const auto* choices = get_array(response, "choices");
    const auto* choice = choices && !choices->empty() ? choices->front().if_object() : nullptr;
    if (!choice) {
        Diagnostics diag;
        diag.provider = std::string(provider_name);
        throw CommandError(ErrorKind::protocol,
                           std::string(provider_name) + " reply has no choices: " + snippet(body), std::move(diag));
    }
    ChatReplyFields fields;
    fields.model = std::string(get_string(response, "model"));
    if (const auto* usage = get_object(response, "usage")) fields.usage = parse_usage(*usage);
    fields.finish_reason = std::string(get_string(*choice, "finish_reason"));
    if (const auto* message = get_object(*choice, "message")) {
        fields.text = std::string(get_string(*message, "content"));
        fields.refused = !get_string(*message, "refusal").empty();
        if (const auto* calls = get_array(*message, "tool_calls")) {
            for (const auto& call_value : *calls) {
                const auto* call = call_value.if_object();
                if (!call) continue;
                ToolCall tool_call;
                tool_call.id = std::string(get_string(*call, "id"));
                if (const auto* function = get_object(*call, "function")) {
                    tool_call.name = std::string(get_string(*function, "name"));
                    tool_call.arguments = arguments_text(*function);
                }
                fields.tool_calls.push_back(std::move(tool_call));
            }
        }
    }
    return fields;
}

}  // namespace detail

namespace {

class ChatAdapter final : public Adapter {
public:
    explicit ChatAdapter(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

    std::string_view name() const noexcept override { return provider_name; }

    http::Request build_request(const ModelRequest& request) const override {
        return bearer_json_request(join_url(endpoint_.base_url, "chat/completions"),
                                   build_body(request, model_of(request, endpoint_)), sse_or_json(request.stream),
                                   endpoint_.api_key);
    }

    // Ordinary replies are read by the one-pass scan; anything else by the tree, which reports it.
    ModelReply parse_reply(const http::Headers& headers, std::string_view body) const override {
        auto scanned = scan_chat_reply(body);
        ChatReplyFields fields = scanned ? std::move(*scanned) : read_chat_reply_tree(headers, body);
        ModelReply reply;
        reply.model = std::move(fields.model);
        reply.request_id = first_header(headers, {"x-request-id", "x-generation-id"});
        if (fields.usage) reply.usage = *fields.usage;
        reply.text = std::move(fields.text);
        reply.tool_calls = std::move(fields.tool_calls);
        ensure_call_ids(reply.tool_calls);
        set_finish(reply, std::move(fields.finish_reason), fields.refused);
        return reply;
    }

    Diagnostics parse_error(int status, const http::Headers& headers, std::string_view body) const override {
        return parse_openai_style_error(provider_name, status, headers, body);
    }

    std::unique_ptr<StreamState> start_stream(const http::Headers& headers) const override {
        return std::make_unique<ChatStream>(first_header(headers, {"x-request-id", "x-generation-id"}));
    }

private:
    Endpoint endpoint_;
};

}  // namespace

std::unique_ptr<Adapter> make_openai_chat_adapter(Endpoint endpoint) {
    return std::make_unique<ChatAdapter>(std::move(endpoint));
}

}  // namespace alloy::providers
