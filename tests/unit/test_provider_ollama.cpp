#include "providers/ollama.hpp"
#include "providers/common.hpp"
#include "support/provider_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace alloy;
using namespace alloy::providers;
using alloy::test::body_of;
using alloy::test::full_request;
using alloy::test::run_stream;

namespace {

std::unique_ptr<Adapter> adapter(std::string key = "") {
    return make_ollama_adapter({"ollama:llama3.2", "http://localhost:11434", std::move(key)});
}

}  // namespace

TEST_CASE("ollama: request body maps every field", "[providers]") {
    auto r = full_request("ollama:qwen3:8b");
    r.messages[1].tool_calls[1].provider_data[alloy::providers::detail::synthetic_id_key] = true;  // an older server sent no id
    const auto request = adapter()->build_request(r);
    CHECK(request.url == "http://localhost:11434/api/chat");
    CHECK_FALSE(request.headers.find("Authorization"));
    const auto expected = boost::json::parse(R"({
      "model":"qwen3:8b",
      "messages":[
        {"role":"system","content":"Be precise."},
        {"role":"user","content":"Add 2 and 3, then check the weather."},
        {"role":"assistant","content":"Working on it.","tool_calls":[
          {"id":"call_1","function":{"name":"add","arguments":{"a":2,"b":3}}},
          {"function":{"name":"weather","arguments":{"city":"Paris"}}}]},
        {"role":"tool","tool_name":"add","tool_call_id":"call_1","content":"5"},
        {"role":"tool","tool_name":"weather","content":"ToolError: service down"}
      ],
      "tools":[{"type":"function","function":{"name":"add","description":"Add two integers","parameters":
        {"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}],
      "format":{"type":"object","properties":{"sum":{"type":"integer"}},"required":["sum"],"additionalProperties":false},
      "options":{"num_predict":300,"temperature":0.25},
      "stream":false,
      "seed":7
    })");
    CHECK(body_of(request) == expected);

    r.stream = true;
    r.tool_choice = ToolChoice::none;
    const auto streaming = body_of(adapter("ollama-key")->build_request(r)).as_object();
    CHECK(streaming.at("stream") == true);
    CHECK_FALSE(streaming.contains("tools"));
    CHECK(adapter("ollama-key")->build_request(r).headers.find("Authorization") ==
          std::optional<std::string_view>("Bearer ollama-key"));
    CHECK_FALSE(adapter()->capabilities().streaming_with_tools);
    CHECK(adapter()->framing() == Framing::ndjson);
}

TEST_CASE("ollama: parses text, tool calls as objects, usage", "[providers]") {
    auto a = adapter();
    const auto text = a->parse_reply({}, R"({"model":"llama3.2","created_at":"2026-01-01T00:00:00Z",
      "message":{"role":"assistant","content":"Hi!"},"done":true,"done_reason":"stop",
      "total_duration":5000000,"prompt_eval_count":26,"eval_count":4})");
    CHECK(text.text == "Hi!");
    CHECK(text.finish == FinishReason::stop);
    CHECK(text.usage.input_tokens == 26);
    CHECK(text.usage.output_tokens == 4);
    CHECK(text.model == "llama3.2");

    const auto calls = a->parse_reply({}, R"({"model":"llama3.2","message":{"role":"assistant","content":"","tool_calls":[
      {"id":"call_o1","function":{"index":0,"name":"add","arguments":{"a":1,"b":2}}},
      {"function":{"index":1,"name":"weather","arguments":{"city":"Tokyo"}}}]},"done":true,"done_reason":"stop"})");
    REQUIRE(calls.tool_calls.size() == 2);
    CHECK(calls.finish == FinishReason::tool_calls);
    CHECK(calls.tool_calls[0].id == "call_o1");
    CHECK(calls.tool_calls[0].arguments == R"({"a":1,"b":2})");
    CHECK(alloy::providers::detail::has_synthetic_id(calls.tool_calls[1]));
    CHECK(a->parse_reply({}, R"({"message":{"content":"{\"s"},"done":true,"done_reason":"length"})").finish == FinishReason::length);
    CHECK(a->parse_reply({}, R"({"message":{"content":"{\"sum\":5}"},"done":true,"done_reason":"stop"})").text == R"({"sum":5})");
}

TEST_CASE("ollama: NDJSON stream through the real decoder, whole and byte by byte", "[providers]") {
    const std::string body =
        "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"The \"},\"done\":false}\n"
        "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"sky\"},\"done\":false}\r\n"
        "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}}]},\"done\":false}\n"
        "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":11,\"eval_count\":7}";
    for (std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
        INFO("piece " << piece);
        auto state = adapter()->start_stream({});
        const auto run = run_stream(*state, Framing::ndjson, body, piece);
        CHECK(run.deltas == std::vector<std::string>{"The ", "sky"});
        CHECK(run.reply.text == "The sky");
        REQUIRE(run.reply.tool_calls.size() == 1);
        CHECK(run.reply.tool_calls[0].arguments == R"({"a":1,"b":2})");
        CHECK(run.reply.finish == FinishReason::tool_calls);
        CHECK(run.reply.usage.input_tokens == 11);
        CHECK(run.reply.usage.output_tokens == 7);
    }
}

TEST_CASE("ollama: error line mid-stream raises; a stream without done is truncated", "[providers]") {
    auto state = adapter()->start_stream({});
    try {
        run_stream(*state, Framing::ndjson,
                   "{\"message\":{\"content\":\"Hel\"},\"done\":false}\n{\"error\":\"model runner has unexpectedly stopped\"}\n");
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::stream);
        CHECK_THAT(e.what(), Catch::Contains("model runner has unexpectedly stopped"));
    }
    auto cut = adapter()->start_stream({});
    CHECK_THROWS_AS(run_stream(*cut, Framing::ndjson, "{\"message\":{\"content\":\"Hel\"},\"done\":false}\n"), CommandError);
}

TEST_CASE("ollama: string error bodies", "[providers]") {
    auto a = adapter();
    const auto missing = a->parse_error(404, {}, R"({"error":"model 'llama9' not found, try pulling it first"})");
    CHECK(missing.message == "model 'llama9' not found, try pulling it first");
    CHECK_FALSE(missing.retryable);
    CHECK(missing.provider == "ollama");
    const auto plain = a->parse_error(404, {}, "404 page not found\n");
    CHECK(plain.message == "404 page not found");
    const auto busy = a->parse_error(503, {}, R"({"error":"server busy"})");
    CHECK(busy.retryable);
    const auto crashed = a->parse_error(500, {}, R"({"error":"llama runner process has terminated"})");
    CHECK(crashed.retryable);
}
