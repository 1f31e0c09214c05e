// Ollama native /api/chat: PROTOCOLS.md §5.
#include "mock/wire.hpp"

#include <boost/json.hpp>

#include <ctime>

namespace alloy::mock::detail {
namespace json = boost::json;

namespace {

std::string created_at(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000000000Z", &tm);
    return buf;
}

json::object line(const RequestInfo& info, json::object message, bool done) {
    return {{"model", info.model}, {"created_at", created_at(info.created)}, {"message", std::move(message)}, {"done", done}};
}

void add_final_fields(json::object& o, const Reply& r) {
    o["done_reason"] = "stop";
    o["total_duration"] = 1'000'000;
    o["load_duration"] = 1'000;
    o["prompt_eval_count"] = r.input_tokens;
    o["prompt_eval_duration"] = 100'000;
    o["eval_count"] = r.output_tokens;
    o["eval_duration"] = 800'000;
}

json::array tool_calls(const Reply& r, const RequestInfo& info) {
    json::array calls;
    for (std::size_t i = 0; i < r.calls.size(); ++i)
        calls.push_back(json::object{
            {"id", "call_mock_" + std::to_string(info.seq) + "_" + std::to_string(i)},
            {"function", {{"index", i}, {"name", r.calls[i].name}, {"arguments", r.calls[i].args}}}});
    return calls;
}

std::string ndjson(const json::object& o) { return json::serialize(o) + "\n"; }

}  // namespace

std::optional<WireError> parse_ollama(const json::object& body, Transcript& out) {
    const auto* model = body.if_contains("model");
    if (!model || !model->is_string() || model->as_string().empty())
        return WireError{400, "", "", "model is required", {}};
    out.model = model->as_string();
    if (const auto* messages = body.if_contains("messages"); messages && messages->is_array()) {
        for (const auto& mv : messages->as_array()) {
            const auto* msg = mv.if_object();
            const auto* role = msg ? msg->if_contains("role") : nullptr;
            if (!role || !role->is_string()) return WireError{400, "", "", "invalid message: missing role", {}};
            const auto* content = msg->if_contains("content");
            if (*role == "user") {
                out.last_user_text = content ? content_text(*content) : std::string{};
                out.tool_results.clear();
                out.has_tool_results = false;
            } else if (*role == "tool") {
                out.tool_results.push_back(content ? content_text(*content) : std::string{});
                out.has_tool_results = true;
            }
        }
    } else if (body.contains("messages")) {
        return WireError{400, "", "", "invalid messages: expected an array", {}};
    }
    if (const auto* tools = body.if_contains("tools"); tools && tools->is_array()) {
        for (const auto& tv : tools->as_array()) {
            const auto* fn = tv.is_object() ? tv.as_object().if_contains("function") : nullptr;
            const auto* name = fn && fn->is_object() ? fn->as_object().if_contains("name") : nullptr;
            if (!name || !name->is_string()) return WireError{400, "", "", "invalid tool: missing function name", {}};
            out.tools.push_back({std::string(name->as_string()), fn->as_object().if_contains("parameters")});
        }
    }
    if (const auto* format = body.if_contains("format")) {
        if (*format == "json") {
            out.typed = true;
        } else if (format->is_object()) {
            out.typed = true;
            out.output_schema = format;
        }
    }
    out.stream = true;  // Ollama streams unless told otherwise
    if (const auto* s = body.if_contains("stream"); s && s->is_bool()) out.stream = s->as_bool();
    return std::nullopt;
}

std::string render_ollama_json(const Transcript&, const Reply& r, const RequestInfo& info) {
    json::object message{{"role", "assistant"}, {"content", r.calls.empty() ? std::string_view(r.text) : ""}};
    if (!r.calls.empty()) message["tool_calls"] = tool_calls(r, info);
    json::object o = line(info, std::move(message), true);
    add_final_fields(o, r);
    return json::serialize(o);
}

std::vector<std::string> render_ollama_stream(const Transcript&, const Reply& r, const RequestInfo& info) {
    std::vector<std::string> events;
    if (!r.calls.empty()) {
        events.push_back(ndjson(line(info, {{"role", "assistant"}, {"content", ""}, {"tool_calls", tool_calls(r, info)}}, false)));
    } else {
        for (const auto& piece : r.pieces)
            events.push_back(ndjson(line(info, {{"role", "assistant"}, {"content", piece}}, false)));
    }
    json::object last = line(info, {{"role", "assistant"}, {"content", ""}}, true);
    add_final_fields(last, r);
    events.push_back(ndjson(last));
    return events;
}

}  // namespace alloy::mock::detail
