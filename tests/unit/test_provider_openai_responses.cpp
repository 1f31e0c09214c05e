#include "providers/openai_responses.hpp"
#include "support/provider_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace alloy;
using namespace alloy::providers;
using alloy::test::body_of;
using alloy::test::feed_events;
using alloy::test::full_request;
using alloy::test::headers_of;
using alloy::test::joined;

namespace {

std::unique_ptr<Adapter> adapter() {
    return make_openai_responses_adapter({"gpt-5-mini", "https://api.openai.com/v1", "sk-test-123"});
}

const char* add_schema = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]})";
const char* answer_schema = R"({"type":"object","properties":{"sum":{"type":"integer"}},"required":["sum"],"additionalProperties":false})";

}  // namespace

TEST_CASE("responses: request body maps every field", "[providers]") {
    const auto request = adapter()->build_request(full_request("gpt-4.1"));
    CHECK(request.method == "POST");
    CHECK(request.url == "https://api.openai.com/v1/responses");
    CHECK(request.headers.find("Authorization") == std::optional<std::string_view>("Bearer sk-test-123"));
    CHECK(request.headers.find("content-type") == std::optional<std::string_view>("application/json"));

    const auto expected = boost::json::parse(std::string(R"({
      "model":"gpt-4.1",
      "instructions":"Be precise.",
      "input":[
        {"role":"user","content":"Add 2 and 3, then check the weather."},
        {"role":"assistant","content":"Working on it."},
        {"type":"function_call","call_id":"call_1","name":"add","arguments":"{\"a\":2,\"b\":3}"},
        {"type":"function_call","call_id":"call_2","name":"weather","arguments":"{\"city\":\"Paris\"}"},
        {"type":"function_call_output","call_id":"call_1","output":"5"},
        {"type":"function_call_output","call_id":"call_2","output":"ToolError: service down"}
      ],
      "tools":[{"type":"function","name":"add","description":"Add two integers","parameters":)") + add_schema +
                                                 R"(,"strict":false}],
      "text":{"format":{"type":"json_schema","name":"Answer","schema":)" + answer_schema + R"(,"strict":true}},
      "max_output_tokens":300,
      "temperature":0.25,
      "store":false,
      "seed":7
    })");
    CHECK(body_of(request) == expected);
}

TEST_CASE("responses: reasoning models drop temperature; tool_choice none; stream; extra overrides", "[providers]") {
    auto r = full_request("gpt-5-mini");
    r.tool_choice = ToolChoice::none;
    r.stream = true;
    r.extra["store"] = true;
    const auto body = body_of(adapter()->build_request(r)).as_object();
    CHECK_FALSE(body.contains("temperature"));
    CHECK(body.at("tool_choice") == "none");
    CHECK(body.at("stream") == true);
    CHECK(body.at("store") == true);
    CHECK(body.at("model") == "gpt-5-mini");

    r.model = "o3-mini";
    CHECK_FALSE(body_of(adapter()->build_request(r)).as_object().contains("temperature"));
    r.model.clear();  // falls back to the endpoint's model
    CHECK(body_of(adapter()->build_request(r)).as_object().at("model") == "gpt-5-mini");
}

TEST_CASE("responses: parses a text reply with usage", "[providers]") {
    const auto reply = adapter()->parse_reply(headers_of({{"x-request-id", "req_abc"}}), R"({
      "id":"resp_1","object":"response","status":"completed","model":"gpt-5-mini-2025",
      "output":[{"type":"reasoning","id":"rs_1","summary":[]},
                {"type":"message","id":"msg_1","role":"assistant",
                 "content":[{"type":"output_text","text":"Hello, ","annotations":[]},
                            {"type":"output_text","text":"world.","annotations":[]}]}],
      "usage":{"input_tokens":120,"input_tokens_details":{"cached_tokens":100},"output_tokens":40,
               "output_tokens_details":{"reasoning_tokens":25},"total_tokens":160}})");
    CHECK(reply.text == "Hello, world.");
    CHECK(reply.tool_calls.empty());
    CHECK(reply.finish == FinishReason::stop);
    CHECK(reply.raw_finish_reason == "completed");
    CHECK(reply.request_id == "req_abc");
    CHECK(reply.model == "gpt-5-mini-2025");
    CHECK(reply.usage.input_tokens == 120);
    CHECK(reply.usage.cached_tokens == 100);
    CHECK(reply.usage.output_tokens == 40);
    CHECK(reply.usage.reasoning_tokens == 25);
}

TEST_CASE("responses: parses two parallel function calls by call_id", "[providers]") {
    const auto reply = adapter()->parse_reply({}, R"({"status":"completed","output":[
      {"type":"function_call","id":"fc_1","call_id":"call_A","name":"add","arguments":"{\"a\":1,\"b\":2}","status":"completed"},
      {"type":"function_call","id":"fc_2","call_id":"call_B","name":"weather","arguments":"{\"city\":\"Oslo\"}","status":"completed"}]})");
    REQUIRE(reply.tool_calls.size() == 2);
    CHECK(reply.tool_calls[0].id == "call_A");
    CHECK(reply.tool_calls[0].name == "add");
    CHECK(reply.tool_calls[0].arguments == R"({"a":1,"b":2})");
    CHECK(reply.tool_calls[1].id == "call_B");
    CHECK(reply.tool_calls[1].arguments == R"({"city":"Oslo"})");
    CHECK(reply.finish == FinishReason::tool_calls);
}

TEST_CASE("responses: typed reply text and incomplete / refusal finish reasons", "[providers]") {
    auto typed = adapter()->parse_reply({}, R"({"status":"completed","output":[{"type":"message","content":[
      {"type":"output_text","text":"{\"sum\":5}"}]}]})");
    CHECK(typed.text == R"({"sum":5})");
    CHECK(typed.finish == FinishReason::stop);

    auto truncated = adapter()->parse_reply({}, R"({"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},
      "output":[{"type":"message","content":[{"type":"output_text","text":"{\"su"}]}]})");
    CHECK(truncated.finish == FinishReason::length);
    CHECK(truncated.raw_finish_reason == "incomplete:max_output_tokens");

    auto filtered = adapter()->parse_reply({}, R"({"status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[]})");
    CHECK(filtered.finish == FinishReason::content_filter);

    auto refused = adapter()->parse_reply({}, R"({"status":"completed","output":[{"type":"message","content":[
      {"type":"refusal","refusal":"I can't help with that."}]}]})");
    CHECK(refused.finish == FinishReason::content_filter);

    auto cancelled = adapter()->parse_reply({}, R"({"status":"cancelled","output":[]})");
    CHECK(cancelled.finish == FinishReason::other);
}

TEST_CASE("responses: malformed and failed bodies raise clear errors", "[providers]") {
    try {
        adapter()->parse_reply({}, "{\"status\":\"completed\",\"output\":[");
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::protocol);
        CHECK_THAT(e.what(), Catch::Contains("not valid JSON") && Catch::Contains("{\"status\""));
    }
    try {
        adapter()->parse_reply({}, R"({"status":"failed","error":{"code":"server_error","message":"boom"},"output":[]})");
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.diagnostics().error_code == "server_error");
        CHECK(e.diagnostics().message == "boom");
        CHECK(e.retryable());
    }
}

TEST_CASE("responses: stream of text deltas", "[providers]") {
    auto state = adapter()->start_stream(headers_of({{"x-request-id", "req_s1"}}));
    const auto deltas = feed_events(*state, {
        {"response.created", R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","model":"gpt-5-mini","output":[]}})"},
        {"response.in_progress", R"({"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_1","status":"in_progress"}})"},
        {"response.output_item.added", R"({"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"type":"message","id":"msg_1","role":"assistant","content":[]}})"},
        {"response.content_part.added", R"({"type":"response.content_part.added","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":""}})"},
        {"response.output_text.delta", R"({"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hel","logprobs":[]})"},
        {"response.output_text.delta", R"({"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"lo","logprobs":[]})"},
        {"response.output_text.done", R"({"type":"response.output_text.done","sequence_number":6,"item_id":"msg_1","output_index":0,"content_index":0,"text":"Hello"})"},
        {"response.output_item.done", R"({"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":{"type":"message","id":"msg_1","content":[{"type":"output_text","text":"Hello"}]}})"},
        {"response.completed", R"({"type":"response.completed","sequence_number":8,"response":{"id":"resp_1","status":"completed","model":"gpt-5-mini","output":[],"usage":{"input_tokens":10,"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"input_tokens_details":{"cached_tokens":0}}}})"},
    });
    CHECK(deltas == std::vector<std::string>{"Hel", "lo"});
    const auto reply = state->finish();
    CHECK(reply.text == "Hello");
    CHECK(reply.finish == FinishReason::stop);
    CHECK(reply.usage.input_tokens == 10);
    CHECK(reply.usage.output_tokens == 2);
    CHECK(reply.request_id == "req_s1");
}

TEST_CASE("responses: stream of function-call argument fragments keyed by item_id", "[providers]") {
    auto state = adapter()->start_stream({});
    const auto deltas = feed_events(*state, {
        {"response.output_item.added", R"({"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_A","name":"add","arguments":"","status":"in_progress"}})"},
        {"response.output_item.added", R"({"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_2","call_id":"call_B","name":"weather","arguments":""}})"},
        {"response.function_call_arguments.delta", R"({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"a\":"})"},
        {"response.function_call_arguments.delta", R"({"type":"response.function_call_arguments.delta","item_id":"fc_2","output_index":1,"delta":"{\"city\":\"Rome\"}"})"},
        {"response.function_call_arguments.delta", R"({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"1,\"b\":2}"})"},
        {"response.function_call_arguments.done", R"({"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":0,"arguments":"{\"a\":1,\"b\":2}"})"},
        {"response.output_item.done", R"({"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_A","name":"add","arguments":"{\"a\":1,\"b\":2}","status":"completed"}})"},
        {"response.completed", R"({"type":"response.completed","response":{"status":"completed","usage":{"input_tokens":5,"output_tokens":9}}})"},
    });
    CHECK(deltas.empty());
    const auto reply = state->finish();
    REQUIRE(reply.tool_calls.size() == 2);
    CHECK(reply.tool_calls[0].id == "call_A");
    CHECK(reply.tool_calls[0].name == "add");
    CHECK(reply.tool_calls[0].arguments == R"({"a":1,"b":2})");
    CHECK(reply.tool_calls[1].id == "call_B");
    CHECK(reply.tool_calls[1].arguments == R"({"city":"Rome"})");
    CHECK(reply.finish == FinishReason::tool_calls);
    CHECK(reply.usage.output_tokens == 9);
}

TEST_CASE("responses: error event and failed terminal event raise stream errors", "[providers]") {
    auto state = adapter()->start_stream({});
    std::vector<std::string> deltas;
    state->on_event("response.output_text.delta", R"({"type":"response.output_text.delta","delta":"Hi"})", deltas);
    try {
        state->on_event("error", R"({"type":"error","code":"insufficient_quota","message":"You exceeded your current quota","param":null,"sequence_number":2})", deltas);
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::stream);
        CHECK(e.diagnostics().error_code == "insufficient_quota");
        CHECK_FALSE(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("You exceeded your current quota"));
    }
    auto failed = adapter()->start_stream({});
    try {
        failed->on_event("response.failed", R"({"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"oops"}}})", deltas);
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::stream);
        CHECK(e.retryable());
    }
}

TEST_CASE("responses: a stream without its terminal event is truncated; incomplete maps to length", "[providers]") {
    auto state = adapter()->start_stream({});
    feed_events(*state, {{"", R"({"type":"response.output_text.delta","delta":"partial"})"}});
    CHECK_THROWS_AS(state->finish(), CommandError);

    auto incomplete = adapter()->start_stream({});
    feed_events(*incomplete, {{"", R"({"type":"response.output_text.delta","delta":"{\"a\""})"},
                              {"", R"({"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}})"}});
    const auto reply = incomplete->finish();
    CHECK(reply.finish == FinishReason::length);
    CHECK(reply.text == R"({"a")");

    auto garbage = adapter()->start_stream({});
    std::vector<std::string> deltas;
    CHECK_THROWS_AS(garbage->on_event("", "{not json", deltas), CommandError);
}

TEST_CASE("responses: error bodies map to diagnostics", "[providers]") {
    auto a = adapter();
    const auto rate = a->parse_error(429, headers_of({{"x-request-id", "req_9"}, {"retry-after-ms", "1500"}}),
        R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})");
    CHECK(rate.http_status == 429);
    CHECK(rate.provider == "openai");
    CHECK(rate.error_type == "requests");
    CHECK(rate.error_code == "rate_limit_exceeded");
    CHECK(rate.message == "Rate limit reached");
    CHECK(rate.request_id == "req_9");
    CHECK(rate.retry_after == std::chrono::milliseconds(1500));
    CHECK(rate.retryable);

    const auto quota = a->parse_error(429, {}, R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})");
    CHECK_FALSE(quota.retryable);

    const auto bad = a->parse_error(400, {}, R"({"error":{"message":"Invalid schema","type":"invalid_request_error","param":"text.format","code":null}})");
    CHECK_FALSE(bad.retryable);
    CHECK(bad.error_type == "invalid_request_error");
    CHECK(bad.error_code.empty());

    const auto auth = a->parse_error(401, {}, R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}})");
    CHECK_FALSE(auth.retryable);
    CHECK(auth.error_code == "invalid_api_key");

    const auto server = a->parse_error(500, {}, "<html>Internal Server Error</html>");
    CHECK(server.retryable);
    CHECK(server.message == "<html>Internal Server Error</html>");

    const auto forced = a->parse_error(400, headers_of({{"x-should-retry", "true"}}), "{}");
    CHECK(forced.retryable);
    const auto vetoed = a->parse_error(503, headers_of({{"x-should-retry", "false"}}), "{}");
    CHECK_FALSE(vetoed.retryable);
}
