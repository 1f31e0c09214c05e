#include "providers/anthropic.hpp"

#include "providers/common.hpp"

#include <boost/json/parse.hpp>

#include <cctype>
#include <map>

namespace alloy::providers {
namespace {

using boost::json::array;
using boost::json::object;
using namespace detail;

constexpr std::string_view provider_name = "anthropic";
/// Name of the forced tool that carries structured output for models without native JSON outputs.
constexpr std::string_view output_tool_name = "json_output";
constexpr int default_max_tokens = 4096;

// Native `output_config.format` exists from Claude 4.5 on. Reads the first version number after
// "claude-" (e.g. "claude-sonnet-4-5-20250929" -> 4.5, "claude-opus-4-1" -> 4.1, "claude-3-7-sonnet" -> 3.7);
// a long numeric token (a date) is not a minor version.
bool supports_native_output(std::string_view model) {
    if (model.rfind("claude-", 0) != 0) return false;
    std::vector<std::string_view> tokens;
    std::size_t start = 0;
    while (start <= model.size()) {
        const auto dash = model.find('-', start);
        tokens.push_back(model.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
        if (dash == std::string_view::npos) break;
        start = dash + 1;
    }
    auto small_number = [](std::string_view t) {
        if (t.empty() || t.size() > 2) return -1;
        for (char c : t) {
            if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
        }
        return std::stoi(std::string(t));
    };
    for (std::size_t i = 1; i < tokens.size(); ++i) {
        const int major = small_number(tokens[i]);
        if (major < 0) continue;
        const int minor = i + 1 < tokens.size() ? std::max(small_number(tokens[i + 1]), 0) : 0;
        return major > 4 || (major == 4 && minor >= 5);
    }
    return false;
}

// Appends a user-role message; consecutive user turns (tool results then text) become one message.
void push_user_blocks(array& messages, array blocks) {
    if (!messages.empty()) {
        auto& last = messages.back().as_object();
        if (last.at("role") == "user") {
            auto& content = last["content"];
            if (content.is_string()) {
                const boost::json::storage_ptr& sp = messages.storage();
                content = array({object({{"type", "text"}, {"text", content.as_string()}}, sp)}, sp);
            }
            for (auto& block : blocks) content.as_array().push_back(std::move(block));
            return;
        }
    }
    messages.push_back(object({{"role", "user"}, {"content", std::move(blocks)}}, messages.storage()));
}

// The body is built in an arena and serialised before the arena dies.
std::string build_body(const ModelRequest& request, const std::string& model) {
    RequestArena arena;
    const boost::json::storage_ptr& sp = arena.storage();
    object body(sp);
    body["model"] = model;
    body["max_tokens"] = request.max_tokens.value_or(default_max_tokens);
    if (request.system) body["system"] = *request.system;

    array messages(sp);
    for (const auto& message : request.messages) {
        switch (message.role) {
        case Message::Role::user:
            if (!messages.empty() && messages.back().as_object().at("role") == "user") {
                push_user_blocks(messages, array({object({{"type", "text"}, {"text", message.text}}, sp)}, sp));
            } else {
                messages.push_back(object({{"role", "user"}, {"content", message.text}}, sp));
            }
            break;
        case Message::Role::assistant: {
            array content(sp);
            if (!message.text.empty()) content.push_back(object({{"type", "text"}, {"text", message.text}}, sp));
            for (const auto& call : message.tool_calls) {
                content.push_back(object({{"type", "tool_use"},
                                          {"id", call.id},
                                          {"name", call.name},
                                          {"input", arguments_object(call.arguments, sp)}},
                                         sp));
            }
            messages.push_back(object({{"role", "assistant"}, {"content", std::move(content)}}, sp));
            break;
        }
        case Message::Role::tool: {
            // All results of one turn go back in a single user message.
            array blocks(sp);
            for (const auto& result : message.tool_results) {
                object block({{"type", "tool_result"}, {"tool_use_id", result.call_id}, {"content", result.content}},
                             sp);
                if (result.is_error) block["is_error"] = true;
                blocks.push_back(std::move(block));
            }
            push_user_blocks(messages, std::move(blocks));
            break;
        }
        }
    }
    body["messages"] = std::move(messages);

    const bool forced_output_tool = request.output && !supports_native_output(model);
    array tools(sp);
    for (const auto& tool : request.tools) {
        if (forced_output_tool && tool.name == output_tool_name) {
            throw ConfigurationError("tool name '" + std::string(output_tool_name) +
                                     "' is reserved for structured output on " + model);
        }
        tools.push_back(
            object({{"name", tool.name}, {"description", tool.description}, {"input_schema", *tool.parameters}}, sp));
    }
    if (request.output && !forced_output_tool) {
        body["output_config"] =
            object({{"format", object({{"type", "json_schema"}, {"schema", request.output->schema}}, sp)}}, sp);
    }
    if (forced_output_tool) {
        tools.push_back(object({{"name", output_tool_name},
                                {"description", "Respond with the final answer as this tool's input."},
                                {"input_schema", request.output->schema}},
                               sp));
        // With other callable tools the model must call one of them or the output tool.
        if (request.tools.empty() || request.tool_choice == ToolChoice::none) {
            body["tool_choice"] = object({{"type", "tool"}, {"name", output_tool_name}}, sp);
        } else {
            body["tool_choice"] = object({{"type", "any"}}, sp);
        }
    } else if (!tools.empty() && request.tool_choice == ToolChoice::none) {
        body["tool_choice"] = object({{"type", "none"}}, sp);
    }
    if (!tools.empty()) body["tools"] = std::move(tools);
    if (request.temperature) body["temperature"] = *request.temperature;
    if (request.stream) body["stream"] = true;
    merge_extra(body, request.extra);
    return serialize_body(body);
}

// Anthropic's input_tokens excludes cache reads and writes; ours includes them.
void read_usage(const object& usage, Usage& u, bool has_output) {
    if (usage.contains("input_tokens") || usage.contains("cache_read_input_tokens")) {
        u.input_tokens = get_int(usage, "input_tokens") + get_int(usage, "cache_creation_input_tokens") +
                         get_int(usage, "cache_read_input_tokens");
        u.cached_tokens = get_int(usage, "cache_read_input_tokens");
    }
    if (has_output && usage.contains("output_tokens")) u.output_tokens = get_int(usage, "output_tokens");
}

void set_finish(ModelReply& reply, std::string raw) {
    reply.raw_finish_reason = raw;
    if (!reply.tool_calls.empty()) reply.finish = FinishReason::tool_calls;
    else if (raw == "end_turn" || raw == "stop_sequence" || raw == "tool_use") reply.finish = FinishReason::stop;
    else if (raw == "max_tokens" || raw == "model_context_window_exceeded") reply.finish = FinishReason::length;
    else if (raw == "refusal") reply.finish = FinishReason::content_filter;
    else reply.finish = FinishReason::other;  // pause_turn and future values
}

Diagnostics error_fields(const object& root, int status) {
    Diagnostics diag;
    diag.provider = std::string(provider_name);
    diag.http_status = status;
    if (const auto* error = get_object(root, "error")) {
        diag.error_type = std::string(get_string(*error, "type"));
        diag.message = std::string(get_string(*error, "message"));
        if (const auto* details = get_object(*error, "details")) diag.error_code = get_code(*details, "error_code");
    }
    diag.request_id = std::string(get_string(root, "request_id"));
    return diag;
}

class AnthropicStream final : public StreamState {
public:
    explicit AnthropicStream(std::string request_id) { reply_.request_id = std::move(request_id); }

    void on_event(std::string_view event, std::string_view data, std::vector<std::string>& deltas) override {
        if (data == "[DONE]") return;
        ReplyArena arena;
        const object payload = parse_object(data, provider_name, "a stream event", arena.storage());
        std::string_view type = get_string(payload, "type");
        if (type.empty()) type = event;

        if (type == "message_start") {
            if (const auto* message = get_object(payload, "message")) {
                reply_.model = std::string(get_string(*message, "model"));
                if (const auto* usage = get_object(*message, "usage")) read_usage(*usage, reply_.usage, true);
            }
        } else if (type == "content_block_start") {
            const auto index = get_int(payload, "index");
            Block& block = blocks_[index];
            if (const auto* content = get_object(payload, "content_block")) {
                block.type = std::string(get_string(*content, "type"));
                if (block.type == "tool_use") {
                    block.call.id = std::string(get_string(*content, "id"));
                    block.call.name = std::string(get_string(*content, "name"));
                    // Normally `{}` with the input streamed afterwards; keep a non-empty one.
                    if (const auto* input = get_object(*content, "input"); input && !input->empty()) {
                        block.initial_input = to_json(*input);
                    }
                } else if (block.type == "text") {
                    emit(std::string(get_string(*content, "text")), deltas);
                }
            }
        } else if (type == "content_block_delta") {
            Block& block = blocks_[get_int(payload, "index")];
            const auto* delta = get_object(payload, "delta");
            if (!delta) return;
            const auto delta_type = get_string(*delta, "type");
            if (delta_type == "text_delta") {
                emit(std::string(get_string(*delta, "text")), deltas);
            } else if (delta_type == "input_json_delta") {
                const auto part = get_string(*delta, "partial_json");
                block.partial_json += part;
                // The forced output tool's input is the reply text: stream it as text.
                if (block.call.name == output_tool_name) emit(std::string(part), deltas);
            }
        } else if (type == "content_block_stop") {
            auto it = blocks_.find(get_int(payload, "index"));
            if (it != blocks_.end() && it->second.type == "tool_use") close_tool_block(it->second);
        } else if (type == "message_delta") {
            if (const auto* delta = get_object(payload, "delta")) {
                if (auto reason = get_string(*delta, "stop_reason"); !reason.empty()) stop_reason_ = std::string(reason);
            }
            // output_tokens here is cumulative: assign, never add.
            if (const auto* usage = get_object(payload, "usage")) read_usage(*usage, reply_.usage, true);
        } else if (type == "message_stop") {
            stopped_ = true;
        } else if (type == "error") {
            throw_stream_error(error_fields(payload, 200));
        }
        // ping and unknown events carry nothing we keep.
    }

    ModelReply finish() override {
        if (!stopped_) throw_truncated_stream(provider_name, "message_stop");
        ensure_call_ids(reply_.tool_calls);
        set_finish(reply_, stop_reason_);
        return std::move(reply_);
    }

private:
    struct Block {
        std::string type;
        ToolCall call;
        std::string initial_input;
        std::string partial_json;
        bool closed = false;
    };

    void emit(std::string text, std::vector<std::string>& deltas) {
        if (text.empty()) return;
        reply_.text += text;
        deltas.push_back(std::move(text));
    }

    void close_tool_block(Block& block) {
        if (block.closed) return;
        block.closed = true;
        std::string input = !block.partial_json.empty() ? block.partial_json
                            : !block.initial_input.empty() ? block.initial_input
                                                           : std::string("{}");
        if (block.call.name == output_tool_name) {
            if (block.partial_json.empty()) reply_.text += input;  // the deltas already carried it otherwise
            return;
        }
        block.call.arguments = std::move(input);
        reply_.tool_calls.push_back(std::move(block.call));
    }

    ModelReply reply_;
    std::map<std::int64_t, Block> blocks_;  // content block index -> block
    std::string stop_reason_;
    bool stopped_ = false;
};

class AnthropicAdapter final : public Adapter {
public:
    explicit AnthropicAdapter(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

    std::string_view name() const noexcept override { return provider_name; }

    http::Request build_request(const ModelRequest& request) const override {
        // The documented base is the host; accept one that already ends in /v1 as well.
        std::string_view base = endpoint_.base_url;
        while (!base.empty() && base.back() == '/') base.remove_suffix(1);
        const bool has_version = base.size() >= 3 && base.substr(base.size() - 3) == "/v1";
        auto http_request = json_request(join_url(base, has_version ? "messages" : "v1/messages"),
                                         build_body(request, model_of(request, endpoint_)), sse_or_json(request.stream));
        if (!endpoint_.api_key.empty()) http_request.headers.set("x-api-key", endpoint_.api_key);
        http_request.headers.set("anthropic-version", "2023-06-01");
        return http_request;
    }

    ModelReply parse_reply(const http::Headers& headers, std::string_view body) const override {
        ReplyArena arena;
        const object message = parse_object(body, provider_name, "a response body", arena.storage());
        if (get_string(message, "type") == "error") {
            Diagnostics diag = error_fields(message, 200);
            throw CommandError(ErrorKind::provider_status, "anthropic returned an error: " + diag.message, std::move(diag));
        }
        ModelReply reply;
        reply.model = std::string(get_string(message, "model"));
        reply.request_id = first_header(headers, {"request-id", "x-request-id"});
        if (const auto* content = get_array(message, "content")) {
            for (const auto& block_value : *content) {
                const auto* block = block_value.if_object();
                if (!block) continue;
                const auto type = get_string(*block, "type");
                if (type == "text") {
                    reply.text += get_string(*block, "text");
                } else if (type == "tool_use") {
                    const auto* input = block->if_contains("input");
                    std::string arguments = input ? to_json(*input) : std::string("{}");
                    if (get_string(*block, "name") == output_tool_name) {
                        reply.text += arguments;
                        continue;
                    }
                    reply.tool_calls.push_back(
                        ToolCall{std::string(get_string(*block, "id")), std::string(get_string(*block, "name")),
                                 std::move(arguments), {}});
                }
            }
        }
        if (const auto* usage = get_object(message, "usage")) read_usage(*usage, reply.usage, true);
        ensure_call_ids(reply.tool_calls);
        set_finish(reply, std::string(get_string(message, "stop_reason")));
        return reply;
    }

    Diagnostics parse_error(int status, const http::Headers& headers, std::string_view body) const override {
        Diagnostics diag = base_diagnostics(provider_name, status, headers, {"request-id", "x-request-id"});
        ReplyArena arena;
        boost::system::error_code ec;
        const auto value = boost::json::parse(body, ec, arena.storage());
        if (!ec && value.is_object() && get_object(value.as_object(), "error")) {
            Diagnostics fields = error_fields(value.as_object(), status);
            diag.error_type = std::move(fields.error_type);
            diag.error_code = std::move(fields.error_code);
            diag.message = std::move(fields.message);
            if (diag.request_id.empty()) diag.request_id = std::move(fields.request_id);
        } else {
            diag.message = snippet(body);
        }
        finish_diagnostics(diag, headers);
        return diag;
    }

    std::unique_ptr<StreamState> start_stream(const http::Headers& headers) const override {
        return std::make_unique<AnthropicStream>(first_header(headers, {"request-id", "x-request-id"}));
    }

private:
    Endpoint endpoint_;
};

}  // namespace

std::unique_ptr<Adapter> make_anthropic_adapter(Endpoint endpoint) {
    return std::make_unique<AnthropicAdapter>(std::move(endpoint));
}

}  // namespace alloy::providers
