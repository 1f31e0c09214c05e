// Anthropic Messages: PROTOCOLS.md §3.
#include "mock/wire.hpp"

#include <boost/json.hpp>

namespace alloy::mock::detail {
namespace json = boost::json;

namespace {

std::string message_id(const RequestInfo& info) { return "msg_mock_" + std::to_string(info.seq); }
std::string tool_use_id(const RequestInfo& info, std::size_t i) {
    return "toolu_mock_" + std::to_string(info.seq) + "_" + std::to_string(i);
}

json::object usage(std::size_t input, std::size_t output) {
    return {{"input_tokens", input},
            {"cache_creation_input_tokens", 0},
            {"cache_read_input_tokens", 0},
            {"output_tokens", output},
            {"service_tier", "standard"}};
}

json::object message_skeleton(const RequestInfo& info) {
    return {{"id", message_id(info)}, {"type", "message"}, {"role", "assistant"}, {"model", info.model}};
}

// Text of a tool_result's content: a string, or text blocks joined.
std::string tool_result_text(const json::object& block) {
    const auto* content = block.if_contains("content");
    return content ? content_text(*content) : std::string{};
}

}  // namespace

std::optional<WireError> parse_anthropic(const json::object& body, Transcript& out) {
    const auto* model = body.if_contains("model");
    if (!model || !model->is_string())
        return WireError{400, "invalid_request_error", "", "model: Field required", {}};
    out.model = model->as_string();
    if (!body.contains("max_tokens"))
        return WireError{400, "invalid_request_error", "", "max_tokens: Field required", {}};
    const auto* messages = body.if_contains("messages");
    if (!messages || !messages->is_array())
        return WireError{400, "invalid_request_error", "", "messages: Field required", {}};
    for (const auto& mv : messages->as_array()) {
        const auto* msg = mv.if_object();
        const auto* role = msg ? msg->if_contains("role") : nullptr;
        if (!role || !role->is_string())
            return WireError{400, "invalid_request_error", "", "messages.role: Field required", {}};
        if (*role != "user") continue;
        const auto* content = msg->if_contains("content");
        if (!content) return WireError{400, "invalid_request_error", "", "messages.content: Field required", {}};
        if (content->is_string()) {
            out.last_user_text = content->as_string();
            out.tool_results.clear();
            out.has_tool_results = false;
            continue;
        }
        if (!content->is_array()) continue;
        // Tool results come first in a user message; text after them starts a fresh turn.
        std::string text;
        bool has_text = false;
        for (const auto& bv : content->as_array()) {
            const auto* block = bv.if_object();
            const auto* type = block ? block->if_contains("type") : nullptr;
            if (!type) continue;
            if (*type == "tool_result") {
                if (!block->contains("tool_use_id"))
                    return WireError{400, "invalid_request_error", "", "messages.content.tool_use_id: Field required", {}};
                out.tool_results.push_back(tool_result_text(*block));
                out.has_tool_results = true;
            } else if (*type == "text") {
                if (const auto* t = block->if_contains("text"); t && t->is_string()) text += t->as_string();
                has_text = true;
            }
        }
        if (has_text) {
            out.last_user_text = std::move(text);
            out.tool_results.clear();
            out.has_tool_results = false;
        }
    }
    if (const auto* tools = body.if_contains("tools"); tools && tools->is_array()) {
        for (const auto& tv : tools->as_array()) {
            const auto* tool = tv.if_object();
            const auto* name = tool ? tool->if_contains("name") : nullptr;
            if (!name || !name->is_string())
                return WireError{400, "invalid_request_error", "", "tools.name: Field required", {}};
            if (tool->contains("type") && !tool->contains("input_schema")) continue;  // server tools
            out.tools.push_back({std::string(name->as_string()), tool->if_contains("input_schema")});
        }
    }
    if (const auto* choice = body.if_contains("tool_choice"); choice && choice->is_object()) {
        const auto* type = choice->as_object().if_contains("type");
        if (type && *type == "none") out.tool_choice = ToolChoice::none;
        else if (type && *type == "any") out.tool_choice = ToolChoice::required;
        else if (type && *type == "tool") {
            const auto* name = choice->as_object().if_contains("name");
            if (!name || !name->is_string())
                return WireError{400, "invalid_request_error", "", "tool_choice.tool.name: Field required", {}};
            out.tool_choice = ToolChoice::named;
            out.forced_tool = name->as_string();
        }
    }
    // Native structured output (output_config.format), or the deprecated beta output_format.
    const json::value* format = find_path(body, {"output_config", "format"});
    if (!format) format = body.if_contains("output_format");
    if (format && format->is_object()) {
        const auto* type = format->as_object().if_contains("type");
        if (type && *type == "json_schema") {
            out.typed = true;
            out.output_schema = format->as_object().if_contains("schema");
        }
    }
    if (const auto* s = body.if_contains("stream"); s && s->is_bool()) out.stream = s->as_bool();
    return std::nullopt;
}

std::string render_anthropic_json(const Transcript&, const Reply& r, const RequestInfo& info) {
    json::array content;
    if (r.calls.empty()) {
        content.push_back(json::object{{"type", "text"}, {"text", r.text}});
    } else {
        for (std::size_t i = 0; i < r.calls.size(); ++i)
            content.push_back(json::object{
                {"type", "tool_use"}, {"id", tool_use_id(info, i)}, {"name", r.calls[i].name}, {"input", r.calls[i].args}});
    }
    json::object msg = message_skeleton(info);
    msg["content"] = std::move(content);
    msg["stop_reason"] = r.calls.empty() ? "end_turn" : "tool_use";
    msg["stop_sequence"] = nullptr;
    msg["usage"] = usage(r.input_tokens, r.output_tokens);
    return json::serialize(msg);
}

std::vector<std::string> render_anthropic_stream(const Transcript&, const Reply& r, const RequestInfo& info) {
    std::vector<std::string> events;
    json::object start = message_skeleton(info);
    start["content"] = json::array{};
    start["stop_reason"] = nullptr;
    start["stop_sequence"] = nullptr;
    start["usage"] = usage(r.input_tokens, 1);
    events.push_back(sse_event("message_start", {{"type", "message_start"}, {"message", std::move(start)}}));

    auto block_start = [&](std::size_t index, json::object block) {
        events.push_back(sse_event("content_block_start",
                                   {{"type", "content_block_start"}, {"index", index}, {"content_block", std::move(block)}}));
        if (index == 0) events.push_back(sse_event("ping", {{"type", "ping"}}));
    };
    auto block_delta = [&](std::size_t index, json::object delta) {
        events.push_back(
            sse_event("content_block_delta", {{"type", "content_block_delta"}, {"index", index}, {"delta", std::move(delta)}}));
    };
    auto block_stop = [&](std::size_t index) {
        events.push_back(sse_event("content_block_stop", {{"type", "content_block_stop"}, {"index", index}}));
    };

    if (r.calls.empty()) {
        block_start(0, {{"type", "text"}, {"text", ""}});
        for (const auto& piece : r.pieces) block_delta(0, {{"type", "text_delta"}, {"text", piece}});
        block_stop(0);
    } else {
        for (std::size_t i = 0; i < r.calls.size(); ++i) {
            block_start(i, {{"type", "tool_use"}, {"id", tool_use_id(info, i)}, {"name", r.calls[i].name}, {"input", json::object{}}});
            // The first input_json_delta is empty, as the service sends it.
            block_delta(i, {{"type", "input_json_delta"}, {"partial_json", ""}});
            for (auto& frag : split_fragments(r.calls[i].args_text, 3))
                block_delta(i, {{"type", "input_json_delta"}, {"partial_json", std::move(frag)}});
            block_stop(i);
        }
    }
    events.push_back(sse_event(
        "message_delta",
        {{"type", "message_delta"},
         {"delta", {{"stop_reason", r.calls.empty() ? "end_turn" : "tool_use"}, {"stop_sequence", nullptr}}},
         {"usage", {{"input_tokens", r.input_tokens}, {"output_tokens", r.output_tokens}}}}));
    events.push_back(sse_event("message_stop", {{"type", "message_stop"}}));
    return events;
}

}  // namespace alloy::mock::detail
