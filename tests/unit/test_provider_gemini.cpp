#include "providers/gemini.hpp"
#include "providers/common.hpp"
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
    return make_gemini_adapter({"gemini-2.5-flash", "https://generativelanguage.googleapis.com", "AIza-secret"});
}

std::vector<std::pair<std::string, std::string>> unnamed(std::initializer_list<std::string> datas) {
    std::vector<std::pair<std::string, std::string>> events;
    for (const auto& d : datas) events.emplace_back("", d);
    return events;
}

}  // namespace

TEST_CASE("gemini: request body maps every field", "[providers]") {
    auto r = full_request("gemini-3-pro-preview");
    r.messages[1].tool_calls[0].provider_data["thoughtSignature"] = "sig-abc";
    const auto request = adapter()->build_request(r);
    CHECK(request.url ==
          "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro-preview:generateContent");
    CHECK(request.headers.find("x-goog-api-key") == std::optional<std::string_view>("AIza-secret"));
    const auto expected = boost::json::parse(R"({
      "systemInstruction":{"parts":[{"text":"Be precise."}]},
      "contents":[
        {"role":"user","parts":[{"text":"Add 2 and 3, then check the weather."}]},
        {"role":"model","parts":[
          {"text":"Working on it."},
          {"functionCall":{"id":"call_1","name":"add","args":{"a":2,"b":3}},"thoughtSignature":"sig-abc"},
          {"functionCall":{"id":"call_2","name":"weather","args":{"city":"Paris"}}}]},
        {"role":"user","parts":[
          {"functionResponse":{"id":"call_1","name":"add","response":{"output":5}}},
          {"functionResponse":{"id":"call_2","name":"weather","response":{"error":"ToolError: service down"}}}]}
      ],
      "tools":[{"functionDeclarations":[{"name":"add","description":"Add two integers","parametersJsonSchema":
        {"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}]}],
      "generationConfig":{"temperature":0.25,"maxOutputTokens":300,"responseMimeType":"application/json",
        "responseJsonSchema":{"type":"object","properties":{"sum":{"type":"integer"}},"required":["sum"],"additionalProperties":false}},
      "seed":7
    })");
    CHECK(body_of(request) == expected);
}

TEST_CASE("gemini: stream URL, tool_choice none, synthesised ids are not echoed", "[providers]") {
    auto r = full_request("gemini-2.5-flash");
    r.stream = true;
    r.tool_choice = ToolChoice::none;
    r.messages[1].tool_calls[1].provider_data[alloy::providers::detail::synthetic_id_key] = true;
    r.messages[1].tool_calls[1].id = "call_local";
    r.messages[2].tool_results[1].call_id = "call_local";
    r.messages[2].tool_results[1].is_error = false;
    r.messages[2].tool_results[1].content = "sunny";
    const auto request = adapter()->build_request(r);
    CHECK(request.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    const auto body = body_of(request).as_object();
    CHECK(body.at("toolConfig") == boost::json::parse(R"({"functionCallingConfig":{"mode":"NONE"}})"));
    const auto& model_parts = body.at("contents").as_array()[1].as_object().at("parts").as_array();
    CHECK(model_parts[2] == boost::json::parse(R"({"functionCall":{"name":"weather","args":{"city":"Paris"}}})"));
    const auto& result_parts = body.at("contents").as_array()[2].as_object().at("parts").as_array();
    CHECK(result_parts[1] == boost::json::parse(R"({"functionResponse":{"name":"weather","response":{"output":"sunny"}}})"));
}

TEST_CASE("gemini: parses text, parallel calls with signatures, usage and finish reasons", "[providers]") {
    auto a = adapter();
    const auto text = a->parse_reply(headers_of({}), R"({"candidates":[{"content":{"role":"model","parts":[
        {"text":"thinking...","thought":true},{"text":"Hello"},{"text":" there"}]},"finishReason":"STOP","index":0}],
      "usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":5,"thoughtsTokenCount":12,"cachedContentTokenCount":20,"totalTokenCount":47},
      "modelVersion":"gemini-2.5-flash","responseId":"resp-g1"})");
    CHECK(text.text == "Hello there");
    CHECK(text.finish == FinishReason::stop);
    CHECK(text.usage.input_tokens == 30);
    CHECK(text.usage.output_tokens == 17);
    CHECK(text.usage.reasoning_tokens == 12);
    CHECK(text.usage.cached_tokens == 20);
    CHECK(text.model == "gemini-2.5-flash");
    CHECK(text.request_id == "resp-g1");

    const auto calls = a->parse_reply({}, R"({"candidates":[{"content":{"role":"model","parts":[
        {"functionCall":{"name":"add","args":{"a":1,"b":2}},"thoughtSignature":"sig-1"},
        {"functionCall":{"id":"fc-2","name":"weather","args":{"city":"Nice"}}}]},"finishReason":"STOP"}]})");
    REQUIRE(calls.tool_calls.size() == 2);
    CHECK(calls.finish == FinishReason::tool_calls);
    CHECK_FALSE(calls.tool_calls[0].id.empty());
    CHECK(alloy::providers::detail::has_synthetic_id(calls.tool_calls[0]));
    CHECK(calls.tool_calls[0].provider_data.at("thoughtSignature") == "sig-1");
    CHECK(calls.tool_calls[0].arguments == R"({"a":1,"b":2})");
    CHECK(calls.tool_calls[1].id == "fc-2");
    CHECK_FALSE(alloy::providers::detail::has_synthetic_id(calls.tool_calls[1]));

    const auto typed = a->parse_reply({}, R"({"candidates":[{"content":{"parts":[{"text":"{\"sum\":5}"}]},"finishReason":"STOP"}]})");
    CHECK(typed.text == R"({"sum":5})");
    CHECK(a->parse_reply({}, R"({"candidates":[{"content":{"parts":[]},"finishReason":"MAX_TOKENS"}]})").finish == FinishReason::length);
    CHECK(a->parse_reply({}, R"({"candidates":[{"finishReason":"SAFETY"}]})").finish == FinishReason::content_filter);
    CHECK(a->parse_reply({}, R"({"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL"}]})").finish == FinishReason::other);
    const auto blocked = a->parse_reply({}, R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":8}})");
    CHECK(blocked.finish == FinishReason::content_filter);
    CHECK(blocked.raw_finish_reason == "blockReason:PROHIBITED_CONTENT");
}

TEST_CASE("gemini: stream chunks; last usage wins; whole tool calls; ends on close", "[providers]") {
    auto state = adapter()->start_stream({});
    const auto deltas = feed_events(*state, unnamed({
        R"({"candidates":[{"content":{"role":"model","parts":[{"text":"Let me "}]}}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":2}})",
        R"({"candidates":[{"content":{"role":"model","parts":[{"text":"check."},{"functionCall":{"name":"weather","args":{"city":"Oslo"}},"thoughtSignature":"s1"}]}}]})",
        R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"add","args":{"a":1,"b":1}}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":14,"thoughtsTokenCount":3}})"}));
    CHECK(deltas == std::vector<std::string>{"Let me ", "check."});
    const auto reply = state->finish();
    REQUIRE(reply.tool_calls.size() == 2);
    CHECK(reply.tool_calls[0].name == "weather");
    CHECK(reply.tool_calls[0].provider_data.at("thoughtSignature") == "s1");
    CHECK(reply.tool_calls[0].id != reply.tool_calls[1].id);
    CHECK(reply.finish == FinishReason::tool_calls);
    CHECK(reply.usage.input_tokens == 9);
    CHECK(reply.usage.output_tokens == 17);

    auto cut = adapter()->start_stream({});
    feed_events(*cut, unnamed({R"({"candidates":[{"content":{"parts":[{"text":"Hal"}]}}]})"}));
    CHECK_THROWS_AS(cut->finish(), CommandError);
}

TEST_CASE("gemini: error chunk inside a 200 stream raises", "[providers]") {
    auto state = adapter()->start_stream({});
    std::vector<std::string> deltas;
    try {
        state->on_event("", R"({"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}})", deltas);
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::stream);
        CHECK(e.diagnostics().error_type == "UNAVAILABLE");
        CHECK(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("overloaded"));
    }
}

TEST_CASE("gemini: error bodies incl. RetryInfo", "[providers]") {
    auto a = adapter();
    const auto quota = a->parse_error(429, {}, R"({"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED",
      "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
                 {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}})");
    CHECK(quota.error_type == "RESOURCE_EXHAUSTED");
    CHECK(quota.retry_after == std::chrono::milliseconds(37000));
    CHECK(quota.retryable);
    const auto key = a->parse_error(400, {}, R"({"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT",
      "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}})");
    CHECK(key.error_code == "API_KEY_INVALID");
    CHECK_FALSE(key.retryable);
    const auto unavailable = a->parse_error(503, {}, R"([{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}])");
    CHECK(unavailable.retryable);
    CHECK(unavailable.message == "overloaded");
    const auto internal = a->parse_error(500, {}, R"({"error":{"code":500,"message":"Internal error","status":"INTERNAL"}})");
    CHECK(internal.retryable);
}
