#include "providers/anthropic.hpp"
#include "support/provider_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace alloy;
using namespace alloy::providers;
using alloy::test::body_of;
using alloy::test::feed_events;
using alloy::test::full_request;
using alloy::test::headers_of;

namespace {

std::unique_ptr<Adapter> adapter() {
    return make_anthropic_adapter({"claude-sonnet-4-5", "https://api.anthropic.com", "sk-ant-secret"});
}

const char* add_schema = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]})";
const char* answer_schema = R"({"type":"object","properties":{"sum":{"type":"integer"}},"required":["sum"],"additionalProperties":false})";

}  // namespace

TEST_CASE("anthropic: request body maps every field (native structured output)", "[providers]") {
    const auto request = adapter()->build_request(full_request("claude-sonnet-4-5-20250929"));
    CHECK(request.url == "https://api.anthropic.com/v1/messages");
    CHECK(request.headers.find("x-api-key") == std::optional<std::string_view>("sk-ant-secret"));
    CHECK(request.headers.find("anthropic-version") == std::optional<std::string_view>("2023-06-01"));
    CHECK_FALSE(request.headers.find("Authorization"));
    const auto expected = boost::json::parse(std::string(R"({
      "model":"claude-sonnet-4-5-20250929",
      "max_tokens":300,
      "system":"Be precise.",
      "messages":[
        {"role":"user","content":"Add 2 and 3, then check the weather."},
        {"role":"assistant","content":[
          {"type":"text","text":"Working on it."},
          {"type":"tool_use","id":"call_1","name":"add","input":{"a":2,"b":3}},
          {"type":"tool_use","id":"call_2","name":"weather","input":{"city":"Paris"}}]},
        {"role":"user","content":[
          {"type":"tool_result","tool_use_id":"call_1","content":"5"},
          {"type":"tool_result","tool_use_id":"call_2","content":"ToolError: service down","is_error":true}]}
      ],
      "tools":[{"name":"add","description":"Add two integers","input_schema":)") + add_schema + R"(}],
      "output_config":{"format":{"type":"json_schema","schema":)" + answer_schema + R"(}},
      "temperature":0.25,
      "seed":7
    })");
    CHECK(body_of(request) == expected);
}

TEST_CASE("anthropic: older models get a forced output tool; defaults and merging", "[providers]") {
    auto r = full_request("claude-3-7-sonnet-20250219");
    r.max_tokens.reset();
    r.stream = true;
    auto body = body_of(adapter()->build_request(r)).as_object();
    CHECK(body.at("max_tokens") == 4096);
    CHECK(body.at("stream") == true);
    CHECK_FALSE(body.contains("output_config"));
    const auto& tools = body.at("tools").as_array();
    REQUIRE(tools.size() == 2);
    CHECK(tools[1].as_object().at("name") == "json_output");
    CHECK(tools[1].as_object().at("input_schema") == boost::json::parse(answer_schema));
    CHECK(body.at("tool_choice") == boost::json::parse(R"({"type":"any"})"));

    r.tools.clear();
    body = body_of(adapter()->build_request(r)).as_object();
    CHECK(body.at("tool_choice") == boost::json::parse(R"({"type":"tool","name":"json_output"})"));

    // claude-opus-4-1 predates native outputs; claude-opus-4-6 and claude-haiku-4-5 have them.
    r.model = "claude-opus-4-1-20250805";
    CHECK(body_of(adapter()->build_request(r)).as_object().contains("tools"));
    for (const char* model : {"claude-opus-4-6", "claude-haiku-4-5", "claude-sonnet-5"}) {
        r.model = model;
        INFO(model);
        CHECK(body_of(adapter()->build_request(r)).as_object().contains("output_config"));
    }

    // A user message following tool results joins the same user turn; tool_choice none.
    auto n = full_request("claude-sonnet-4-5");
    n.output.reset();
    n.tool_choice = ToolChoice::none;
    n.messages.push_back(Message{Message::Role::user, "Thanks, now answer.", {}, {}});
    body = body_of(adapter()->build_request(n)).as_object();
    CHECK(body.at("tool_choice") == boost::json::parse(R"({"type":"none"})"));
    const auto& messages = body.at("messages").as_array();
    REQUIRE(messages.size() == 3);
    const auto& last = messages[2].as_object().at("content").as_array();
    REQUIRE(last.size() == 3);
    CHECK(last[2] == boost::json::parse(R"({"type":"text","text":"Thanks, now answer."})"));
}

TEST_CASE("anthropic: parses text, parallel tool use, usage with cache", "[providers]") {
    auto a = adapter();
    const auto text = a->parse_reply(headers_of({{"request-id", "req_011"}}), R"({"id":"msg_1","type":"message","role":"assistant",
      "model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","stop_sequence":null,
      "usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":1000,"output_tokens":5}})");
    CHECK(text.text == "Hello");
    CHECK(text.finish == FinishReason::stop);
    CHECK(text.raw_finish_reason == "end_turn");
    CHECK(text.request_id == "req_011");
    CHECK(text.usage.input_tokens == 1210);
    CHECK(text.usage.cached_tokens == 1000);
    CHECK(text.usage.output_tokens == 5);

    const auto calls = a->parse_reply({}, R"({"type":"message","content":[
      {"type":"text","text":"Let me check."},
      {"type":"tool_use","id":"toolu_1","name":"add","input":{"a":1,"b":2}},
      {"type":"tool_use","id":"toolu_2","name":"weather","input":{"city":"Bern"}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}})");
    REQUIRE(calls.tool_calls.size() == 2);
    CHECK(calls.tool_calls[0].id == "toolu_1");
    CHECK(calls.tool_calls[0].arguments == R"({"a":1,"b":2})");
    CHECK(calls.tool_calls[1].name == "weather");
    CHECK(calls.text == "Let me check.");
    CHECK(calls.finish == FinishReason::tool_calls);

    const auto native = a->parse_reply({}, R"({"type":"message","content":[{"type":"text","text":"{\"sum\":5}"}],"stop_reason":"end_turn"})");
    CHECK(native.text == R"({"sum":5})");
    const auto forced = a->parse_reply({}, R"({"type":"message","content":[{"type":"tool_use","id":"toolu_9","name":"json_output","input":{"sum":5}}],"stop_reason":"tool_use"})");
    CHECK(forced.text == R"({"sum":5})");
    CHECK(forced.tool_calls.empty());
    CHECK(forced.finish == FinishReason::stop);

    CHECK(a->parse_reply({}, R"({"content":[],"stop_reason":"max_tokens"})").finish == FinishReason::length);
    CHECK(a->parse_reply({}, R"({"content":[],"stop_reason":"model_context_window_exceeded"})").finish == FinishReason::length);
    CHECK(a->parse_reply({}, R"({"content":[],"stop_reason":"refusal"})").finish == FinishReason::content_filter);
    CHECK(a->parse_reply({}, R"({"content":[],"stop_reason":"pause_turn"})").finish == FinishReason::other);
}

TEST_CASE("anthropic: stream with text, tool input fragments, cumulative usage, ping", "[providers]") {
    auto state = adapter()->start_stream(headers_of({{"request-id", "req_s"}}));
    const auto deltas = feed_events(*state, {
        {"message_start", R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":20,"cache_read_input_tokens":100,"cache_creation_input_tokens":0,"output_tokens":1}}})"},
        {"content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
        {"ping", R"({"type":"ping"})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" now."}})"},
        {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
        {"content_block_start", R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"add","input":{}}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\": 1, "}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"b\": 2}"}})"},
        {"content_block_stop", R"({"type":"content_block_stop","index":1})"},
        {"content_block_start", R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_2","name":"now","input":{}}})"},
        {"content_block_stop", R"({"type":"content_block_stop","index":2})"},
        {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}})"},
        {"message_delta", R"({"type":"message_delta","delta":{},"usage":{"output_tokens":42}})"},
        {"message_stop", R"({"type":"message_stop"})"},
    });
    CHECK(deltas == std::vector<std::string>{"Checking", " now."});
    const auto reply = state->finish();
    CHECK(reply.text == "Checking now.");
    REQUIRE(reply.tool_calls.size() == 2);
    CHECK(reply.tool_calls[0].id == "toolu_1");
    CHECK(reply.tool_calls[0].arguments == R"({"a": 1, "b": 2})");
    CHECK(reply.tool_calls[1].arguments == "{}");
    CHECK(reply.finish == FinishReason::tool_calls);
    CHECK(reply.usage.input_tokens == 120);
    CHECK(reply.usage.cached_tokens == 100);
    CHECK(reply.usage.output_tokens == 42);  // cumulative, not summed
    CHECK(reply.request_id == "req_s");
}

TEST_CASE("anthropic: forced output tool streams as text", "[providers]") {
    auto state = adapter()->start_stream({});
    const auto deltas = feed_events(*state, {
        {"message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}})"},
        {"content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_j","name":"json_output","input":{}}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"sum\""}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":":5}"}})"},
        {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
        {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}})"},
        {"message_stop", R"({"type":"message_stop"})"},
    });
    CHECK(alloy::test::joined(deltas) == R"({"sum":5})");
    const auto reply = state->finish();
    CHECK(reply.text == R"({"sum":5})");
    CHECK(reply.tool_calls.empty());
    CHECK(reply.finish == FinishReason::stop);
}

TEST_CASE("anthropic: error event in a 200 stream raises; missing message_stop is truncation", "[providers]") {
    auto state = adapter()->start_stream({});
    std::vector<std::string> deltas;
    state->on_event("message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":1}}})", deltas);
    try {
        state->on_event("error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", deltas);
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::stream);
        CHECK(e.diagnostics().error_type == "overloaded_error");
        CHECK(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("Overloaded"));
    }
    auto cut = adapter()->start_stream({});
    cut->on_event("message_start", R"({"type":"message_start","message":{}})", deltas);
    CHECK_THROWS_AS(cut->finish(), CommandError);
}

TEST_CASE("anthropic: error bodies map to diagnostics", "[providers]") {
    auto a = adapter();
    const auto overloaded = a->parse_error(529, headers_of({{"request-id", "req_o"}}),
        R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_body"})");
    CHECK(overloaded.retryable);
    CHECK(overloaded.error_type == "overloaded_error");
    CHECK(overloaded.request_id == "req_o");
    const auto limited = a->parse_error(429, headers_of({{"retry-after", "7"}}),
        R"({"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"},"request_id":"req_r"})");
    CHECK(limited.retryable);
    CHECK(limited.retry_after == std::chrono::milliseconds(7000));
    CHECK(limited.request_id == "req_r");
    const auto spend = a->parse_error(429, {},
        R"({"type":"error","error":{"type":"rate_limit_error","message":"spend limit","details":{"error_code":"enforced_spend_limit_reached"}}})");
    CHECK_FALSE(spend.retryable);
    CHECK(spend.error_code == "enforced_spend_limit_reached");
    const auto invalid = a->parse_error(400, {}, R"({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}})");
    CHECK_FALSE(invalid.retryable);
    CHECK(invalid.message == "max_tokens: Field required");
    const auto auth = a->parse_error(401, {}, R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})");
    CHECK_FALSE(auth.retryable);
    CHECK(auth.error_type == "authentication_error");
    const auto server = a->parse_error(500, {}, R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})");
    CHECK(server.retryable);
}
