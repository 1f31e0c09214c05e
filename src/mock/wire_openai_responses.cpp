// OpenAI Responses API: PROTOCOLS.md §2.
#include "mock/wire.hpp"

#include <boost/json.hpp>

namespace alloy::mock::detail {
namespace json = boost::json;

namespace {

std::string resp_id(const RequestInfo& info) { return "resp_mock_" + std::to_string(info.seq); }
std::string msg_id(const RequestInfo& info) { return "msg_mock_" + std::to_string(info.seq); }
std::string fc_id(const RequestInfo& info, std::size_t i) {
    return "fc_mock_" + std::to_string(info.seq) + "_" + std::to_string(i);
}
std::string call_id(const RequestInfo& info, std::size_t i) {
    return "call_mock_" + std::to_string(info.seq) + "_" + std::to_string(i);
}

json::object usage(const Reply& r) {
    return {{"input_tokens", r.input_tokens},
            {"input_tokens_details", {{"cached_tokens", 0}}},
            {"output_tokens", r.output_tokens},
            {"output_tokens_details", {{"reasoning_tokens", 0}}},
            {"total_tokens", r.input_tokens + r.output_tokens}};
}

json::object text_part(std::string_view text) {
    return {{"type", "output_text"}, {"text", text}, {"annotations", json::array{}}, {"logprobs", json::array{}}};
}

json::object message_item(const RequestInfo& info, std::string_view status, json::array content) {
    return {{"type", "message"}, {"id", msg_id(info)}, {"status", status}, {"role", "assistant"}, {"content", std::move(content)}};
}

json::object call_item(const RequestInfo& info, std::size_t i, const ScriptedCall& c, bool done) {
    return {{"type", "function_call"},
            {"id", fc_id(info, i)},
            {"call_id", call_id(info, i)},
            {"name", c.name},
            {"arguments", done ? std::string_view(c.args_text) : std::string_view()},
            {"status", done ? "completed" : "in_progress"}};
}

json::array output_items(const Reply& r, const RequestInfo& info) {
    json::array out;
    if (r.calls.empty()) {
        out.push_back(message_item(info, "completed", json::array{text_part(r.text)}));
    } else {
        for (std::size_t i = 0; i < r.calls.size(); ++i) out.push_back(call_item(info, i, r.calls[i], true));
    }
    return out;
}

json::object response_object(const RequestInfo& info, std::string_view status, json::array output,
                             json::value usage_value) {
    return {{"id", resp_id(info)},
            {"object", "response"},
            {"created_at", info.created},
            {"status", status},
            {"background", false},
            {"error", nullptr},
            {"incomplete_details", nullptr},
            {"instructions", nullptr},
            {"max_output_tokens", nullptr},
            {"model", info.model},
            {"output", std::move(output)},
            {"parallel_tool_calls", true},
            {"previous_response_id", nullptr},
            {"store", false},
            {"temperature", 1.0},
            {"tool_choice", "auto"},
            {"tools", json::array{}},
            {"top_p", 1.0},
            {"truncation", "disabled"},
            {"usage", std::move(usage_value)}};
}

// Named SSE events carrying "type" and a running "sequence_number".
class EventWriter {
public:
    explicit EventWriter(std::vector<std::string>& out, std::size_t first_seq = 0) : out_(out), seq_(first_seq) {}
    void emit(std::string_view type, json::object payload) {
        json::object o{{"type", type}, {"sequence_number", seq_++}};
        for (auto& [k, v] : payload) o[k] = std::move(v);
        out_.push_back(sse_event(type, o));
    }

private:
    std::vector<std::string>& out_;
    std::size_t seq_;
};

}  // namespace

std::optional<WireError> parse_responses(const json::object& body, Transcript& out) {
    const auto* model = body.if_contains("model");
    if (!model || !model->is_string())
        return WireError{400, "invalid_request_error", "", "Missing required parameter: 'model'.", {}};
    out.model = model->as_string();
    const auto* input = body.if_contains("input");
    if (!input) return WireError{400, "invalid_request_error", "", "Missing required parameter: 'input'.", {}};
    if (input->is_string()) {
        out.last_user_text = input->as_string();
    } else if (input->is_array()) {
        for (const auto& iv : input->as_array()) {
            const auto* item = iv.if_object();
            if (!item) return WireError{400, "invalid_request_error", "", "Invalid type for 'input[]': expected an object.", {}};
            const auto* type = item->if_contains("type");
            const auto* role = item->if_contains("role");
            if (type && *type == "function_call_output") {
                if (!item->contains("call_id"))
                    return WireError{400, "invalid_request_error", "", "Missing required parameter: 'input[].call_id'.", {}};
                const auto* output = item->if_contains("output");
                out.tool_results.push_back(output ? content_text(*output) : std::string{});
                out.has_tool_results = true;
            } else if (role && *role == "tool") {
                return WireError{400, "invalid_request_error", "",
                                 "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and 'user'.", {}};
            } else if (role && *role == "user") {
                const auto* content = item->if_contains("content");
                out.last_user_text = content ? content_text(*content) : std::string{};
                out.tool_results.clear();
                out.has_tool_results = false;
            }
        }
    } else {
        return WireError{400, "invalid_request_error", "", "Invalid type for 'input': expected a string or an array.", {}};
    }
    if (const auto* tools = body.if_contains("tools"); tools && tools->is_array()) {
        for (const auto& tv : tools->as_array()) {
            const auto* tool = tv.if_object();
            if (!tool) continue;
            const auto* type = tool->if_contains("type");
            if (!type || *type != "function") continue;  // built-in tools are not scripted
            const auto* name = tool->if_contains("name");
            if (!name || !name->is_string())
                return WireError{400, "invalid_request_error", "", "Missing required parameter: 'tools[].name'.", {}};
            out.tools.push_back({std::string(name->as_string()), tool->if_contains("parameters")});
        }
    }
    if (const auto* choice = body.if_contains("tool_choice")) {
        if (*choice == "none") out.tool_choice = ToolChoice::none;
        else if (*choice == "required") out.tool_choice = ToolChoice::required;
        else if (choice->is_object()) {
            if (const auto* name = choice->as_object().if_contains("name"); name && name->is_string()) {
                out.tool_choice = ToolChoice::named;
                out.forced_tool = name->as_string();
            }
        }
    }
    if (const auto* format = find_path(body, {"text", "format"}); format && format->is_object()) {
        const auto* type = format->as_object().if_contains("type");
        if (type && *type == "json_schema") {
            out.typed = true;
            out.output_schema = format->as_object().if_contains("schema");
        } else if (type && *type == "json_object") {
            out.typed = true;
        }
    }
    if (const auto* s = body.if_contains("stream"); s && s->is_bool()) out.stream = s->as_bool();
    return std::nullopt;
}

std::string render_responses_json(const Transcript&, const Reply& r, const RequestInfo& info) {
    return json::serialize(response_object(info, "completed", output_items(r, info), usage(r)));
}

std::vector<std::string> render_responses_stream(const Transcript&, const Reply& r, const RequestInfo& info) {
    std::vector<std::string> events;
    EventWriter w(events);
    w.emit("response.created", {{"response", response_object(info, "in_progress", {}, nullptr)}});
    w.emit("response.in_progress", {{"response", response_object(info, "in_progress", {}, nullptr)}});
    if (r.calls.empty()) {
        const auto id = msg_id(info);
        w.emit("response.output_item.added", {{"output_index", 0}, {"item", message_item(info, "in_progress", {})}});
        json::object empty_part = text_part("");
        empty_part.erase("logprobs");
        w.emit("response.content_part.added",
               {{"item_id", id}, {"output_index", 0}, {"content_index", 0}, {"part", std::move(empty_part)}});
        for (const auto& piece : r.pieces)
            w.emit("response.output_text.delta", {{"item_id", id},
                                                  {"output_index", 0},
                                                  {"content_index", 0},
                                                  {"delta", piece},
                                                  {"logprobs", json::array{}}});
        w.emit("response.output_text.done", {{"item_id", id},
                                             {"output_index", 0},
                                             {"content_index", 0},
                                             {"text", r.text},
                                             {"logprobs", json::array{}}});
        json::object part = text_part(r.text);
        part.erase("logprobs");
        w.emit("response.content_part.done",
               {{"item_id", id}, {"output_index", 0}, {"content_index", 0}, {"part", std::move(part)}});
        w.emit("response.output_item.done",
               {{"output_index", 0}, {"item", message_item(info, "completed", json::array{text_part(r.text)})}});
    } else {
        for (std::size_t i = 0; i < r.calls.size(); ++i) {
            const auto id = fc_id(info, i);
            w.emit("response.output_item.added", {{"output_index", i}, {"item", call_item(info, i, r.calls[i], false)}});
            for (auto& frag : split_fragments(r.calls[i].args_text, 3))
                w.emit("response.function_call_arguments.delta",
                       {{"item_id", id}, {"output_index", i}, {"delta", std::move(frag)}});
            w.emit("response.function_call_arguments.done",
                   {{"item_id", id}, {"output_index", i}, {"name", r.calls[i].name}, {"arguments", r.calls[i].args_text}});
            w.emit("response.output_item.done", {{"output_index", i}, {"item", call_item(info, i, r.calls[i], true)}});
        }
    }
    w.emit("response.completed", {{"response", response_object(info, "completed", output_items(r, info), usage(r))}});
    return events;
}

std::vector<std::string> responses_stream_error(const WireError& e, const RequestInfo& info, std::size_t seq) {
    std::vector<std::string> events;
    EventWriter w(events, seq);
    const std::string code = e.code.empty() ? default_error_type(Format::responses, e.status) : e.code;
    const std::string message = e.message.empty() ? default_error_message(e.status) : e.message;
    w.emit("error", {{"code", code}, {"message", message}, {"param", nullptr}});
    json::object failed = response_object(info, "failed", {}, nullptr);
    failed["error"] = json::object{{"code", code}, {"message", message}};
    w.emit("response.failed", {{"response", std::move(failed)}});
    return events;
}

}  // namespace alloy::mock::detail
