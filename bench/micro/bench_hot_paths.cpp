// Micro-benchmarks of the hot-path pieces measured alone: schema generation, request building per
// provider, response parsing into T, SSE/NDJSON decoding, one engine turn on the scripted provider.
//
//   alloy_microbench                       # all, Catch2's default 100 samples
//   alloy_microbench "[request]" --benchmark-samples 20
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>

#include "http/sse.hpp"
#include "providers/factory.hpp"

#include <alloy/alloy.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/describe.hpp>
#include <boost/json/parse.hpp>

#include <string>
#include <vector>

namespace {

struct LineItem {
    std::string name;
    int quantity;
    double price;
};
BOOST_DESCRIBE_STRUCT(LineItem, (), (name, quantity, price))

struct Invoice {
    std::string vendor;
    double total;
    std::vector<LineItem> items;
    std::optional<std::string> note;
};
BOOST_DESCRIBE_STRUCT(Invoice, (), (vendor, total, items, note))

struct AddArgs {
    int a;
    int b;
};
BOOST_DESCRIBE_STRUCT(AddArgs, (), (a, b))

/// The second request of a tool-loop command: prompt, one tool call, its result, a tool and an output.
alloy::ModelRequest tool_turn_request(const std::string& model) {
    alloy::ModelRequest r;
    r.model = model;
    r.system = "You are precise.";
    r.messages.push_back(alloy::Message{alloy::Message::Role::user, "What is 2 + 3? Use the add tool.", {}, {}});
    alloy::Message assistant{alloy::Message::Role::assistant, "", {}, {}};
    assistant.tool_calls.push_back(alloy::ToolCall{"call_1", "add", R"({"a":2,"b":3})", {}});
    r.messages.push_back(std::move(assistant));
    alloy::Message results{alloy::Message::Role::tool, "", {}, {}};
    results.tool_results.push_back(alloy::ToolResult{"call_1", "add", "5", false});
    r.messages.push_back(std::move(results));
    r.tools.push_back(alloy::ToolSpec{"add", "Add two integers", std::make_shared<const boost::json::object>(alloy::schema_of<AddArgs>(alloy::SchemaMode::tool_parameters))});
    r.output = std::make_shared<const alloy::OutputSpec>(alloy::output_spec<Invoice>());
    r.max_tokens = 256;
    return r;
}

std::unique_ptr<alloy::providers::Adapter> adapter(const std::string& provider, const std::string& model) {
    alloy::providers::Route route;
    route.provider = provider;
    route.endpoint = {model, "http://127.0.0.1:8089", "sk-bench"};
    return alloy::providers::make_adapter(route);
}

const char* const invoice_json =
    R"({"vendor":"ACME","total":12.5,"items":[{"name":"widget","quantity":2,"price":6.25}],"note":null})";

std::string chat_reply_body() {
    return std::string(R"({"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,)"
                       R"("message":{"role":"assistant","content":)") +
           boost::json::serialize(boost::json::value(invoice_json)) +
           R"(},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":20,"total_tokens":70}})";
}

/// A Chat Completions stream of `n` content deltas, as one body.
std::string chat_sse_body(int n) {
    std::string body;
    for (int i = 0; i < n; ++i)
        body += R"(data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"word )" +
                std::to_string(i) + R"("},"finish_reason":null}]})" + "\n\n";
    body += "data: [DONE]\n\n";
    return body;
}

std::string ndjson_body(int n) {
    std::string body;
    for (int i = 0; i < n; ++i)
        body += R"({"model":"m","message":{"role":"assistant","content":"word )" + std::to_string(i) +
                R"("},"done":false})" + "\n";
    body += R"({"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"})" "\n";
    return body;
}

}  // namespace

TEST_CASE("schema generation", "[micro][schema]") {
    BENCHMARK("schema_of<Invoice> (cached copy)") { return alloy::schema_of<Invoice>(); };
    BENCHMARK("schema of Invoice built from scratch") {
        alloy::detail::SchemaBuilder builder(alloy::SchemaMode::strict_output);
        return alloy::detail::schema_node<Invoice>(builder);
    };
    BENCHMARK("output_spec<Invoice>") { return alloy::output_spec<Invoice>(); };
}

TEST_CASE("request building per provider", "[micro][request]") {
    const alloy::ModelRequest request = tool_turn_request("m");
    for (const char* provider : {"openai-chat", "openai", "anthropic", "gemini", "ollama"}) {
        const auto a = adapter(provider, "m");
        BENCHMARK(std::string("build_request ") + provider) { return a->build_request(request); };
    }
}

TEST_CASE("response parsing into T", "[micro][parse]") {
    const auto chat = adapter("openai-chat", "m");
    const std::string body = chat_reply_body();
    const alloy::OutputSpec spec = alloy::output_spec<Invoice>();
    const alloy::http::Headers headers;
    BENCHMARK("openai-chat parse_reply") { return chat->parse_reply(headers, body); };
    BENCHMARK("parse_output<Invoice>") { return alloy::parse_output<Invoice>(invoice_json, spec); };
    BENCHMARK("parse_reply + parse_output<Invoice>") {
        alloy::ModelReply reply = chat->parse_reply(headers, body);
        return alloy::parse_output<Invoice>(reply.text, spec);
    };
}

TEST_CASE("stream decoding", "[micro][stream]") {
    const std::string sse = chat_sse_body(64);
    const std::string ndjson = ndjson_body(64);
    BENCHMARK("SseDecoder, 65 events in 512-byte pieces") {
        alloy::http::SseDecoder decoder;
        std::size_t events = 0;
        for (std::size_t at = 0; at < sse.size(); at += 512)
            events += decoder.feed(std::string_view(sse).substr(at, 512)).size();
        return events;
    };
    BENCHMARK("NdjsonDecoder, 65 lines in 512-byte pieces") {
        alloy::http::NdjsonDecoder decoder;
        std::size_t lines = 0;
        for (std::size_t at = 0; at < ndjson.size(); at += 512)
            lines += decoder.feed(std::string_view(ndjson).substr(at, 512)).size();
        return lines;
    };
    const auto chat = adapter("openai-chat", "m");
    BENCHMARK("openai-chat stream: decode + state machine, 64 deltas") {
        alloy::http::SseDecoder decoder;
        auto state = chat->start_stream({});
        std::vector<std::string> deltas;
        for (std::size_t at = 0; at < sse.size(); at += 512)
            for (const auto& e : decoder.feed(std::string_view(sse).substr(at, 512)))
                if (e.data != "[DONE]") state->on_event(e.event, e.data, deltas);
        return deltas.size();
    };
}

namespace {

boost::asio::awaitable<void> typed_once(alloy::Command<Invoice, std::string (*)(int)> cmd, int* done) {
    Invoice inv = co_await cmd(1);
    *done += static_cast<int>(inv.items.size());
}

boost::asio::awaitable<void> tool_once(alloy::Command<std::string, std::string (*)(int)> cmd, int* done) {
    std::string answer = co_await cmd(1);
    *done += static_cast<int>(answer.size());
}

std::string invoice_prompt(int n) { return "Extract the invoice " + std::to_string(n); }

/// A scripted in-process provider that, unlike alloy::testing::ScriptedProvider, keeps no record of
/// the requests (the benchmark runs hundreds of thousands): a tool call on the first turn of a request
/// offering tools, else the invoice JSON.
class ScriptedReplies final : public alloy::Provider {
public:
    std::string_view name() const noexcept override { return "scripted"; }
    boost::asio::awaitable<alloy::ModelReply> complete(const alloy::ModelRequest& request) override {
        alloy::ModelReply reply;
        if (!request.tools.empty() && request.messages.size() == 1) {
            reply.tool_calls.push_back(alloy::ToolCall{"call_1", "add", R"({"a":2,"b":3})", {}});
            reply.finish = alloy::FinishReason::tool_calls;
        } else {
            reply.text = invoice_json;
        }
        co_return reply;
    }
    boost::asio::awaitable<std::unique_ptr<alloy::ReplyStream>> stream(const alloy::ModelRequest&) override {
        throw alloy::ConfigurationError("not used");
    }
};

}  // namespace

TEST_CASE("one engine turn on the scripted provider", "[micro][engine]") {
    alloy::Runtime rt;
    rt.set_provider(std::make_shared<ScriptedReplies>());
    const auto typed = alloy::command<Invoice>("extract_invoice", &invoice_prompt).in(rt);
    const auto add = alloy::tool("add", "Add two integers", [](AddArgs x) { return x.a + x.b; });
    const auto with_tool = alloy::command<std::string>("add_numbers", &invoice_prompt,
                                                       {.tools = std::vector<alloy::Tool>{add}}).in(rt);
    boost::asio::io_context io(1);
    int done = 0;
    BENCHMARK("typed command, 1 request") {
        boost::asio::co_spawn(io, typed_once(typed, &done), boost::asio::detached);
        io.restart();
        return io.run();
    };
    BENCHMARK("tool-loop command, 2 requests") {
        boost::asio::co_spawn(io, tool_once(with_tool, &done), boost::asio::detached);
        io.restart();
        return io.run();
    };
    CHECK(done > 0);
}
