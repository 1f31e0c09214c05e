// OpenAI Chat Completions (also every OpenAI-compatible server): PROTOCOLS.md §1.
#include "mock/wire.hpp"

#include <boost/json.hpp>

namespace alloy::mock::detail {
namespace json = boost::json;

namespace {

std::string chat_id(const RequestInfo& info) { return "chatcmpl-mock-" + std::to_string(info.seq); }
std::string call_id(const RequestInfo& info, std::size_t i) {
    return "call_mock_" + std::to_string(info.seq) + "_" + std::to_string(i);
}

json::object usage(const Reply& r) {
    return {{"prompt_tokens", r.input_tokens},
            {"completion_tokens", r.output_tokens},
            {"total_tokens", r.input_tokens + r.output_tokens},
            {"prompt_tokens_details", {{"cached_tokens", 0}, {"audio_tokens", 0}}},
            {"completion_tokens_details", {{"reasoning_tokens", 0}, {"audio_tokens", 0}}}};
}

json::object chunk(const RequestInfo& info, json::array choices, bool with_usage_field) {
    json::object c{{"id", chat_id(info)},
                   {"object", "chat.completion.chunk"},
                   {"created", info.created},
                   {"model", info.model},
                   {"system_fingerprint", "fp_mock"},
                   {"choices", std::move(choices)}};
    if (with_usage_field) c["usage"] = nullptr;
    return c;
}

json::array delta_choice(json::object delta, json::value finish_reason = nullptr) {
    return json::array{json::object{
        {"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish_reason)}, {"logprobs", nullptr}}};
}

}  // namespace

std::optional<WireError> parse_chat(const json::object& body, Transcript& out) {
    const auto* model = body.if_contains("model");
    if (!model || !model->is_string())
        return WireError{400, "invalid_request_error", "", "Missing required parameter: 'model'.", {}};
    out.model = model->as_string();
    const auto* messages = body.if_contains("messages");
    if (!messages || !messages->is_array())
        return WireError{400, "invalid_request_error", "", "Missing required parameter: 'messages'.", {}};
    for (const auto& m : messages->as_array()) {
        const auto* msg = m.if_object();
        if (!msg) return WireError{400, "invalid_request_error", "", "Invalid type for 'messages[]': expected an object.", {}};
        const auto* role = msg->if_contains("role");
        const auto* content = msg->if_contains("content");
        if (!role || !role->is_string())
            return WireError{400, "invalid_request_error", "", "Missing required parameter: 'messages[].role'.", {}};
        if (*role == "user") {
            out.last_user_text = content ? content_text(*content) : std::string{};
            out.tool_results.clear();
            out.has_tool_results = false;
        } else if (*role == "tool") {
            if (!msg->contains("tool_call_id"))
                return WireError{400, "invalid_request_error", "",
                                 "Missing required parameter: 'messages[].tool_call_id'.", {}};
            out.tool_results.push_back(content ? content_text(*content) : std::string{});
            out.has_tool_results = true;
        }
    }
    if (const auto* tools = body.if_contains("tools"); tools && tools->is_array()) {
        for (const auto& tv : tools->as_array()) {
            const auto* fn = tv.is_object() ? tv.as_object().if_contains("function") : nullptr;
            const auto* name = fn && fn->is_object() ? fn->as_object().if_contains("name") : nullptr;
            if (!name || !name->is_string())
                return WireError{400, "invalid_request_error", "", "Missing required parameter: 'tools[].function.name'.", {}};
            out.tools.push_back({std::string(name->as_string()), fn->as_object().if_contains("parameters")});
        }
    }
    if (const auto* choice = body.if_contains("tool_choice")) {
        if (*choice == "none") out.tool_choice = ToolChoice::none;
        else if (*choice == "required") out.tool_choice = ToolChoice::required;
        else if (choice->is_object()) {
            if (const auto* p = find_path(choice->as_object(), {"function", "name"}); p && p->is_string()) {
                out.tool_choice = ToolChoice::named;
                out.forced_tool = p->as_string();
            }
        }
    }
    if (const auto* rf = body.if_contains("response_format"); rf && rf->is_object()) {
        const auto* type = rf->as_object().if_contains("type");
        if (type && *type == "json_schema") {
            out.typed = true;
            out.output_schema = find_path(rf->as_object(), {"json_schema", "schema"});
        } else if (type && *type == "json_object") {
            out.typed = true;
        }
    }
    if (const auto* s = body.if_contains("stream"); s && s->is_bool()) out.stream = s->as_bool();
    if (const auto* so = body.if_contains("stream_options"); so && so->is_object())
        if (const auto* iu = so->as_object().if_contains("include_usage"); iu && iu->is_bool())
            out.include_usage = iu->as_bool();
    return std::nullopt;
}

std::string render_chat_json(const Transcript&, const Reply& r, const RequestInfo& info) {
    json::object message{{"role", "assistant"}, {"refusal", nullptr}, {"annotations", json::array{}}};
    if (r.calls.empty()) {
        message["content"] = r.text;
    } else {
        message["content"] = nullptr;
        json::array calls;
        for (std::size_t i = 0; i < r.calls.size(); ++i)
            calls.push_back(json::object{{"id", call_id(info, i)},
                                         {"type", "function"},
                                         {"function", {{"name", r.calls[i].name}, {"arguments", r.calls[i].args_text}}}});
        message["tool_calls"] = std::move(calls);
    }
    json::object body{{"id", chat_id(info)},
                      {"object", "chat.completion"},
                      {"created", info.created},
                      {"model", info.model},
                      {"choices", json::array{json::object{{"index", 0},
                                                           {"message", std::move(message)},
                                                           {"logprobs", nullptr},
                                                           {"finish_reason", r.calls.empty() ? "stop" : "tool_calls"}}}},
                      {"usage", usage(r)},
                      {"service_tier", "default"},
                      {"system_fingerprint", "fp_mock"}};
    return json::serialize(body);
}

std::vector<std::string> render_chat_stream(const Transcript& t, const Reply& r, const RequestInfo& info) {
    const bool u = t.include_usage;
    std::vector<std::string> events;
    if (r.calls.empty()) {
        events.push_back(sse_data(chunk(info, delta_choice({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}), u)));
        for (const auto& piece : r.pieces)
            events.push_back(sse_data(chunk(info, delta_choice({{"content", piece}}), u)));
    } else {
        for (std::size_t i = 0; i < r.calls.size(); ++i) {
            // First fragment: index, id, type, name and empty arguments; then argument pieces by index.
            json::object first{{"index", i},
                               {"id", call_id(info, i)},
                               {"type", "function"},
                               {"function", {{"name", r.calls[i].name}, {"arguments", ""}}}};
            json::object delta{{"tool_calls", json::array{std::move(first)}}};
            if (i == 0) {
                delta["role"] = "assistant";
                delta["content"] = nullptr;
            }
            events.push_back(sse_data(chunk(info, delta_choice(std::move(delta)), u)));
            for (auto& frag : split_fragments(r.calls[i].args_text, 3)) {
                json::object piece{{"index", i}, {"function", {{"arguments", std::move(frag)}}}};
                events.push_back(sse_data(chunk(info, delta_choice({{"tool_calls", json::array{std::move(piece)}}}), u)));
            }
        }
    }
    events.push_back(sse_data(chunk(info, delta_choice({}, r.calls.empty() ? "stop" : "tool_calls"), u)));
    if (u) {
        json::object last = chunk(info, json::array{}, false);
        last["usage"] = usage(r);
        events.push_back(sse_data(last));
    }
    events.emplace_back("data: [DONE]\n\n");
    return events;
}

}  // namespace alloy::mock::detail
