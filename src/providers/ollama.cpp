#include "providers/ollama.hpp"

#include "providers/common.hpp"

#include <boost/json/parse.hpp>

#include <unordered_set>

namespace alloy::providers {
namespace {

using boost::json::array;
using boost::json::object;
using namespace detail;

constexpr std::string_view provider_name = "ollama";

// "ollama:llama3.2" names the local model "llama3.2".
std::string local_model(std::string model) {
    constexpr std::string_view prefix = "ollama:";
    if (model.rfind(prefix, 0) == 0) model.erase(0, prefix.size());
    return model;
}

// The body is built in an arena and serialised before the arena dies.
std::string build_body(const ModelRequest& request, std::string model) {
    RequestArena arena;
    const boost::json::storage_ptr& sp = arena.storage();
    object body(sp);
    body["model"] = local_model(std::move(model));
    // A result carries tool_call_id only when its call had a real id (older servers send none).
    std::unordered_set<std::string_view> synthetic_ids;
    for (const auto& message : request.messages) {
        for (const auto& call : message.tool_calls) {
            if (has_synthetic_id(call)) synthetic_ids.insert(call.id);
        }
    }
    array messages(sp);
    if (request.system) messages.push_back(object({{"role", "system"}, {"content", *request.system}}, sp));
    for (const auto& message : request.messages) {
        switch (message.role) {
        case Message::Role::user:
            messages.push_back(object({{"role", "user"}, {"content", message.text}}, sp));
            break;
        case Message::Role::assistant: {
            object m({{"role", "assistant"}, {"content", message.text}}, sp);
            if (!message.tool_calls.empty()) {
                array calls(sp);
                for (const auto& call : message.tool_calls) {
                    object entry(
                        {{"function",
                          object({{"name", call.name}, {"arguments", arguments_object(call.arguments, sp)}}, sp)}},
                        sp);
                    if (!has_synthetic_id(call)) entry["id"] = call.id;
                    calls.push_back(std::move(entry));
                }
                m["tool_calls"] = std::move(calls);
            }
            messages.push_back(std::move(m));
            break;
        }
        case Message::Role::tool:
            for (const auto& result : message.tool_results) {
                object m({{"role", "tool"}, {"tool_name", result.name}, {"content", result.content}}, sp);
                if (!result.call_id.empty() && synthetic_ids.count(result.call_id) == 0) m["tool_call_id"] = result.call_id;
                messages.push_back(std::move(m));
            }
            break;
        }
    }
    body["messages"] = std::move(messages);
    // Ollama has no tool_choice: forbidding calls means not offering the tools.
    if (!request.tools.empty() && request.tool_choice != ToolChoice::none) {
        array tools = function_tools(request.tools, sp);
        body["tools"] = std::move(tools);
    }
    const bool splice_schema = request.output && !request.output->schema_json.empty();  // as in Chat
    if (request.output && !splice_schema) body["format"] = request.output->schema;
    object options(sp);
    if (request.max_tokens) options["num_predict"] = *request.max_tokens;
    if (request.temperature) options["temperature"] = *request.temperature;
    if (!options.empty()) body["options"] = std::move(options);
    body["stream"] = request.stream;  // Ollama streams unless told otherwise
    merge_extra(body, request.extra);
    if (!splice_schema) return serialize_body(body);
    const RawMember format{"format", request.output->schema_json};
    return serialize_body(body, &format);
}

void add_message(ModelReply& reply, const object& message, std::vector<std::string>* deltas) {
    if (auto text = get_string(message, "content"); !text.empty()) {
        reply.text += text;
        if (deltas) deltas->emplace_back(text);
    }
    if (const auto* calls = get_array(message, "tool_calls")) {
        for (const auto& call_value : *calls) {
            const auto* call = call_value.if_object();
            const auto* function = call ? get_object(*call, "function") : nullptr;
            if (!function) continue;
            ToolCall tool_call;
            tool_call.id = std::string(get_string(*call, "id"));
            tool_call.name = std::string(get_string(*function, "name"));
            const auto* args = function->if_contains("arguments");
            tool_call.arguments = !args ? std::string("{}") : args->is_string() ? std::string(args->get_string()) : to_json(*args);
            reply.tool_calls.push_back(std::move(tool_call));
        }
    }
}

void finish_reply(ModelReply& reply, const object& last) {
    reply.model = std::string(get_string(last, "model"));
    reply.usage.input_tokens = get_int(last, "prompt_eval_count");
    reply.usage.output_tokens = get_int(last, "eval_count");
    reply.raw_finish_reason = std::string(get_string(last, "done_reason"));
    ensure_call_ids(reply.tool_calls);
    // done_reason stays "stop" when tools were called.
    if (!reply.tool_calls.empty()) reply.finish = FinishReason::tool_calls;
    else if (reply.raw_finish_reason == "stop" || reply.raw_finish_reason.empty()) reply.finish = FinishReason::stop;
    else if (reply.raw_finish_reason == "length") reply.finish = FinishReason::length;
    else reply.finish = FinishReason::other;
}

class OllamaStream final : public StreamState {
public:
    void on_event(std::string_view, std::string_view line, std::vector<std::string>& deltas) override {
        ReplyArena arena;
        const object chunk = parse_object(line, provider_name, "a stream line", arena.storage());
        if (const auto* error = chunk.if_contains("error")) {
            Diagnostics diag;
            diag.provider = std::string(provider_name);
            diag.http_status = 200;
            diag.message = error->is_string() ? std::string(error->get_string()) : to_json(*error);
            throw_stream_error(std::move(diag));
        }
        if (const auto* message = get_object(chunk, "message")) add_message(reply_, *message, &deltas);
        const auto* done = chunk.if_contains("done");
        if (done && done->is_bool() && done->get_bool()) {
            finish_reply(reply_, chunk);
            done_ = true;
        }
    }

    ModelReply finish() override {
        if (!done_) throw_truncated_stream(provider_name, "the line with \"done\":true");
        return std::move(reply_);
    }

private:
    ModelReply reply_;
    bool done_ = false;
};

class OllamaAdapter final : public Adapter {
public:
    explicit OllamaAdapter(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

    std::string_view name() const noexcept override { return provider_name; }

    ProviderCapabilities capabilities() const noexcept override {
        ProviderCapabilities caps;
        caps.streaming_with_tools = false;
        return caps;
    }

    Framing framing() const noexcept override { return Framing::ndjson; }

    http::Request build_request(const ModelRequest& request) const override {
        // Only ollama.com needs a key; a local server ignores none.
        return bearer_json_request(join_url(endpoint_.base_url, "api/chat"),
                                   build_body(request, model_of(request, endpoint_)),
                                   request.stream ? "application/x-ndjson" : "application/json", endpoint_.api_key);
    }

    ModelReply parse_reply(const http::Headers&, std::string_view body) const override {
        ReplyArena arena;
        const object response = parse_object(body, provider_name, "a response body", arena.storage());
        if (const auto* error = response.if_contains("error")) {
            Diagnostics diag;
            diag.provider = std::string(provider_name);
            diag.http_status = 200;
            diag.message = error->is_string() ? std::string(error->get_string()) : to_json(*error);
            throw CommandError(ErrorKind::provider_status, "ollama returned an error: " + diag.message, std::move(diag));
        }
        ModelReply reply;
        if (const auto* message = get_object(response, "message")) add_message(reply, *message, nullptr);
        finish_reply(reply, response);
        return reply;
    }

    Diagnostics parse_error(int status, const http::Headers& headers, std::string_view body) const override {
        Diagnostics diag = base_diagnostics(provider_name, status, headers, {"x-request-id"});
        ReplyArena arena;
        boost::system::error_code ec;
        const auto value = boost::json::parse(body, ec, arena.storage());
        const auto* root = ec ? nullptr : value.if_object();
        const auto* error = root ? root->if_contains("error") : nullptr;
        if (error && error->is_string()) diag.message = std::string(error->get_string());
        else if (error && error->is_object()) diag.message = std::string(get_string(error->as_object(), "message"));
        else {
            // A plain-text body such as "404 page not found".
            std::string_view text = body;
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
            diag.message = snippet(text);
        }
        finish_diagnostics(diag, headers);
        return diag;
    }

    std::unique_ptr<StreamState> start_stream(const http::Headers&) const override {
        return std::make_unique<OllamaStream>();
    }

private:
    Endpoint endpoint_;
};

}  // namespace

std::unique_ptr<Adapter> make_ollama_adapter(Endpoint endpoint) {
    return std::make_unique<OllamaAdapter>(std::move(endpoint));
}

}  // namespace alloy::providers
