#include "providers/openai_responses.hpp"

#include "providers/common.hpp"

#include <unordered_map>

namespace alloy::providers {
namespace {

using boost::json::array;
using boost::json::object;
using namespace detail;

constexpr std::string_view provider_name = "openai";

// The body is built in an arena and serialised before the arena dies.
std::string build_body(const ModelRequest& request, const std::string& model) {
    RequestArena arena;
    const boost::json::storage_ptr& sp = arena.storage();
    object body(sp);
    body["model"] = model;
    if (request.system) body["instructions"] = *request.system;

    array input(sp);
    for (const auto& message : request.messages) {
        switch (message.role) {
        case Message::Role::user:
            input.push_back(object({{"role", "user"}, {"content", message.text}}, sp));
            break;
        case Message::Role::assistant:
            if (!message.text.empty()) input.push_back(object({{"role", "assistant"}, {"content", message.text}}, sp));
            // Without stored responses the calls must be replayed before their outputs.
            for (const auto& call : message.tool_calls) {
                input.push_back(object({{"type", "function_call"},
                                        {"call_id", call.id},
                                        {"name", call.name},
                                        {"arguments", call.arguments}},
                                       sp));
            }
            break;
        case Message::Role::tool:
            for (const auto& result : message.tool_results) {
                input.push_back(object({{"type", "function_call_output"},
                                        {"call_id", result.call_id},
                                        {"output", result.content}},
                                       sp));
            }
            break;
        }
    }
    body["input"] = std::move(input);

    if (!request.tools.empty()) {
        array tools(sp);
        for (const auto& tool : request.tools) {
            // Responses turns an unflagged schema strict; tool schemas here are not strict.
            tools.push_back(object({{"type", "function"},
                                    {"name", tool.name},
                                    {"description", tool.description},
                                    {"parameters", *tool.parameters},
                                    {"strict", false}},
                                   sp));
        }
        body["tools"] = std::move(tools);
        if (request.tool_choice == ToolChoice::none) body["tool_choice"] = "none";
    }
    const bool splice_schema = request.output && !request.output->schema_json.empty();  // as in Chat
    if (request.output && !splice_schema) {
        body["text"] = object({{"format", object({{"type", "json_schema"},
                                                  {"name", request.output->name},
                                                  {"schema", request.output->schema},
                                                  {"strict", true}},
                                                 sp)}},
                              sp);
    }
    if (request.max_tokens) body["max_output_tokens"] = *request.max_tokens;
    if (request.temperature && !is_openai_reasoning_model(model)) body["temperature"] = *request.temperature;
    body["store"] = false;
    if (request.stream) body["stream"] = true;
    merge_extra(body, request.extra);
    if (!splice_schema) return serialize_body(body);
    return serialize_with_output(body, "text", R"({"format":{"type":"json_schema","name":)", *request.output,
                                 R"(,"strict":true}})");
}

Usage parse_usage(const object& usage) {
    Usage u;
    u.input_tokens = get_int(usage, "input_tokens");
    u.output_tokens = get_int(usage, "output_tokens");
    if (const auto* details = get_object(usage, "input_tokens_details")) u.cached_tokens = get_int(*details, "cached_tokens");
    if (const auto* details = get_object(usage, "output_tokens_details"))
        u.reasoning_tokens = get_int(*details, "reasoning_tokens");
    return u;
}

// The fields of a response object that decide the finish reason (Responses has no finish_reason).
struct Completion {
    std::string status;
    std::string incomplete_reason;  ///< incomplete_details.reason
};

Completion completion_of(const object& response) {
    Completion c;
    c.status = std::string(get_string(response, "status"));
    if (const auto* details = get_object(response, "incomplete_details")) {
        c.incomplete_reason = std::string(get_string(*details, "reason"));
    }
    return c;
}

// Derives the normalised finish reason from the response status.
void set_finish(ModelReply& reply, const Completion& completion, bool refused) {
    const std::string& status = completion.status;
    const std::string& reason = completion.incomplete_reason;
    reply.raw_finish_reason = reason.empty() ? status : status + ":" + reason;
    if (status == "completed") {
        reply.finish = !reply.tool_calls.empty() ? FinishReason::tool_calls
                       : refused                 ? FinishReason::content_filter
                                                 : FinishReason::stop;
    } else if (status == "incomplete") {
        reply.finish = reason == "max_output_tokens" ? FinishReason::length
                       : reason == "content_filter"  ? FinishReason::content_filter
                                                     : FinishReason::other;
    } else if (status == "failed") {
        reply.finish = FinishReason::error;
    } else {
        reply.finish = FinishReason::other;
    }
}

// Reads the `error` object of a failed response or an `error` stream event into Diagnostics.
Diagnostics error_diagnostics(const object& error, int status) {
    Diagnostics diag;
    diag.provider = std::string(provider_name);
    diag.http_status = status;
    diag.error_type = std::string(get_string(error, "type"));
    diag.error_code = get_code(error, "code");
    diag.message = std::string(get_string(error, "message"));
    return diag;
}

ModelReply parse_response_object(const object& response) {
    ModelReply reply;
    reply.model = std::string(get_string(response, "model"));
    bool refused = false;
    if (const auto* output = get_array(response, "output")) {
        for (const auto& item_value : *output) {
            const auto* item = item_value.if_object();
            if (!item) continue;
            const auto type = get_string(*item, "type");
            if (type == "message") {
                if (const auto* content = get_array(*item, "content")) {
                    for (const auto& part_value : *content) {
                        const auto* part = part_value.if_object();
                        if (!part) continue;
                        const auto part_type = get_string(*part, "type");
                        if (part_type == "output_text") reply.text += get_string(*part, "text");
                        else if (part_type == "refusal") refused = true;
                    }
                }
            } else if (type == "function_call") {
                ToolCall call;
                call.id = std::string(get_string(*item, "call_id"));
                call.name = std::string(get_string(*item, "name"));
                call.arguments = std::string(get_string(*item, "arguments"));
                reply.tool_calls.push_back(std::move(call));
            }
        }
    }
    ensure_call_ids(reply.tool_calls);
    if (const auto* usage = get_object(response, "usage")) reply.usage = parse_usage(*usage);
    set_finish(reply, completion_of(response), refused);
    return reply;
}

class ResponsesStream final : public StreamState {
public:
    explicit ResponsesStream(std::string request_id) { reply_.request_id = std::move(request_id); }

    void on_event(std::string_view event, std::string_view data, std::vector<std::string>& deltas) override {
        if (data == "[DONE]") return;  // tolerated anywhere, though Responses never sends it
        ReplyArena arena;
        const object payload = parse_object(data, provider_name, "a stream event", arena.storage());
        std::string_view type = get_string(payload, "type");
        if (type.empty()) type = event;

        if (type == "response.output_text.delta") {
            const auto delta = get_string(payload, "delta");
            if (!delta.empty()) {
                reply_.text += delta;
                deltas.emplace_back(delta);
            }
        } else if (type == "response.refusal.delta" || type == "response.refusal.done") {
            refused_ = true;
        } else if (type == "response.output_item.added" || type == "response.output_item.done") {
            const auto* item = get_object(payload, "item");
            if (item && get_string(*item, "type") == "function_call") {
                auto& call = call_for(std::string(get_string(*item, "id")));
                if (auto v = get_string(*item, "call_id"); !v.empty()) call.id = std::string(v);
                if (auto v = get_string(*item, "name"); !v.empty()) call.name = std::string(v);
                // `done` carries the complete arguments; `added` usually an empty string.
                if (auto v = get_string(*item, "arguments"); !v.empty()) call.arguments = std::string(v);
            }
        } else if (type == "response.function_call_arguments.delta") {
            call_for(std::string(get_string(payload, "item_id"))).arguments += get_string(payload, "delta");
        } else if (type == "response.function_call_arguments.done") {
            call_for(std::string(get_string(payload, "item_id"))).arguments = std::string(get_string(payload, "arguments"));
        } else if (type == "response.completed" || type == "response.incomplete" || type == "response.failed") {
            const auto* response = get_object(payload, "response");
            if (!response) throw_protocol(data);
            if (type == "response.failed") {
                const auto* error = get_object(*response, "error");
                throw_stream_error(error ? error_diagnostics(*error, 200) : error_diagnostics({}, 200));
            }
            if (const auto* usage = get_object(*response, "usage")) reply_.usage = parse_usage(*usage);
            if (auto model = get_string(*response, "model"); !model.empty()) reply_.model = std::string(model);
            completion_ = completion_of(*response);
            terminal_ = true;
        } else if (type == "response.created" || type == "response.in_progress") {
            if (const auto* response = get_object(payload, "response")) {
                if (auto model = get_string(*response, "model"); !model.empty()) reply_.model = std::string(model);
            }
        } else if (type == "error") {
            // The error event carries code/message at the top level (older shapes nest an `error` object).
            const auto* nested = get_object(payload, "error");
            throw_stream_error(error_diagnostics(nested ? *nested : payload, 200));
        }
        // Every other event type (content_part, annotations, reasoning summaries, ...) carries nothing we keep.
    }

    ModelReply finish() override {
        if (!terminal_) throw_truncated_stream(provider_name, "its terminal response event");
        ensure_call_ids(reply_.tool_calls);
        set_finish(reply_, completion_, refused_);
        return std::move(reply_);
    }

private:
    ToolCall& call_for(const std::string& item_id) {
        auto it = index_.find(item_id);
        if (it == index_.end()) {
            it = index_.emplace(item_id, reply_.tool_calls.size()).first;
            reply_.tool_calls.emplace_back();
        }
        return reply_.tool_calls[it->second];
    }

    [[noreturn]] static void throw_protocol(std::string_view data) {
        Diagnostics diag;
        diag.provider = std::string(provider_name);
        throw CommandError(ErrorKind::protocol,
                           "openai stream event has an unexpected shape: " + snippet(data), std::move(diag));
    }

    ModelReply reply_;
    std::unordered_map<std::string, std::size_t> index_;  // item_id -> position in reply_.tool_calls
    Completion completion_;  // from the terminal event
    bool refused_ = false;
    bool terminal_ = false;
};

class ResponsesAdapter final : public Adapter {
public:
    explicit ResponsesAdapter(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

    std::string_view name() const noexcept override { return provider_name; }

    http::Request build_request(const ModelRequest& request) const override {
        return bearer_json_request(join_url(endpoint_.base_url, "responses"),
                                   build_body(request, model_of(request, endpoint_)), sse_or_json(request.stream),
                                   endpoint_.api_key);
    }

    ModelReply parse_reply(const http::Headers& headers, std::string_view body) const override {
        ReplyArena arena;
        const object response = parse_object(body, provider_name, "a response body", arena.storage());
        if (get_string(response, "status") == "failed") {
            const auto* error = get_object(response, "error");
            auto diag = error ? error_diagnostics(*error, 200) : error_diagnostics({}, 200);
            diag.request_id = first_header(headers, {"x-request-id"});
            diag.retryable = is_transient_error_name(diag.error_code);
            throw CommandError(ErrorKind::provider_status,
                               "openai response failed " + diag.error_code + ": " + diag.message, std::move(diag));
        }
        ModelReply reply = parse_response_object(response);
        reply.request_id = first_header(headers, {"x-request-id"});
        return reply;
    }

    Diagnostics parse_error(int status, const http::Headers& headers, std::string_view body) const override {
        return parse_openai_style_error(provider_name, status, headers, body);
    }

    std::unique_ptr<StreamState> start_stream(const http::Headers& headers) const override {
        return std::make_unique<ResponsesStream>(first_header(headers, {"x-request-id"}));
    }

private:
    Endpoint endpoint_;
};

}  // namespace

std::unique_ptr<Adapter> make_openai_responses_adapter(Endpoint endpoint) {
    return std::make_unique<ResponsesAdapter>(std::move(endpoint));
}

}  // namespace alloy::providers
