#include "providers/openai_chat.hpp"
#include "providers/openai_chat_scan.hpp"
#include "support/provider_fixtures.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace alloy;
using namespace alloy::providers;
using alloy::test::body_of;
using alloy::test::feed_events;
using alloy::test::full_request;
using alloy::test::headers_of;

namespace {

std::unique_ptr<Adapter> adapter(std::string base = "https://api.openai.com/v1", std::string key = "sk-chat-1") {
    return make_openai_chat_adapter({"gpt-4.1-mini", std::move(base), std::move(key)});
}

std::vector<std::pair<std::string, std::string>> unnamed(std::initializer_list<std::string> datas) {
    std::vector<std::pair<std::string, std::string>> events;
    for (const auto& d : datas) events.emplace_back("", d);
    return events;
}

}  // namespace

TEST_CASE("chat: request body maps every field", "[providers]") {
    const auto request = adapter()->build_request(full_request("gpt-4.1"));
    CHECK(request.url == "https://api.openai.com/v1/chat/completions");
    CHECK(request.headers.find("authorization") == std::optional<std::string_view>("Bearer sk-chat-1"));
    const auto expected = boost::json::parse(R"({
      "model":"gpt-4.1",
      "messages":[
        {"role":"system","content":"Be precise."},
        {"role":"user","content":"Add 2 and 3, then check the weather."},
        {"role":"assistant","content":"Working on it.","tool_calls":[
          {"id":"call_1","type":"function","function":{"name":"add","arguments":"{\"a\":2,\"b\":3}"}},
          {"id":"call_2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"5"},
        {"role":"tool","tool_call_id":"call_2","content":"ToolError: service down"}
      ],
      "tools":[{"type":"function","function":{"name":"add","description":"Add two integers","parameters":
        {"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}],
      "response_format":{"type":"json_schema","json_schema":{"name":"Answer","strict":true,"schema":
        {"type":"object","properties":{"sum":{"type":"integer"}},"required":["sum"],"additionalProperties":false}}},
      "max_completion_tokens":300,
      "temperature":0.25,
      "seed":7
    })");
    CHECK(body_of(request) == expected);
}

TEST_CASE("chat: streaming asks for usage; empty assistant text becomes null; keyless servers send no auth", "[providers]") {
    auto r = full_request("llama-3.1-8b");
    r.stream = true;
    r.tool_choice = ToolChoice::none;
    r.messages[1].text.clear();
    const auto request = adapter("http://127.0.0.1:8000/v1/", "")->build_request(r);
    CHECK(request.url == "http://127.0.0.1:8000/v1/chat/completions");
    CHECK_FALSE(request.headers.find("Authorization"));
    const auto body = body_of(request).as_object();
    CHECK(body.at("stream") == true);
    CHECK(body.at("stream_options") == boost::json::parse(R"({"include_usage":true})"));
    CHECK(body.at("tool_choice") == "none");
    CHECK(body.at("messages").as_array()[2].as_object().at("content").is_null());
}

TEST_CASE("chat: parses text, parallel tool calls, typed replies and usage", "[providers]") {
    auto a = adapter();
    const auto text = a->parse_reply(headers_of({{"x-request-id", "req_c1"}}), R"({"id":"chatcmpl-1","object":"chat.completion",
      "model":"gpt-4.1-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","refusal":null},"finish_reason":"stop"}],
      "usage":{"prompt_tokens":50,"completion_tokens":7,"total_tokens":57,"prompt_tokens_details":{"cached_tokens":32},
               "completion_tokens_details":{"reasoning_tokens":3}}})");
    CHECK(text.text == "Hi there");
    CHECK(text.finish == FinishReason::stop);
    CHECK(text.request_id == "req_c1");
    CHECK(text.model == "gpt-4.1-mini");
    CHECK(text.usage.input_tokens == 50);
    CHECK(text.usage.output_tokens == 7);
    CHECK(text.usage.cached_tokens == 32);
    CHECK(text.usage.reasoning_tokens == 3);

    const auto calls = a->parse_reply({}, R"({"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
      {"id":"call_x","type":"function","function":{"name":"add","arguments":"{\"a\":1,\"b\":2}"}},
      {"id":"call_y","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Lima\"}"}}]},"finish_reason":"tool_calls"}]})");
    REQUIRE(calls.tool_calls.size() == 2);
    CHECK(calls.tool_calls[0].id == "call_x");
    CHECK(calls.tool_calls[0].name == "add");
    CHECK(calls.tool_calls[0].arguments == R"({"a":1,"b":2})");
    CHECK(calls.tool_calls[1].id == "call_y");
    CHECK(calls.text.empty());
    CHECK(calls.finish == FinishReason::tool_calls);

    const auto typed = a->parse_reply({}, R"({"choices":[{"index":0,"message":{"content":"{\"sum\":5}"},"finish_reason":"stop"}]})");
    CHECK(typed.text == R"({"sum":5})");

    CHECK(a->parse_reply({}, R"({"choices":[{"message":{"content":"{\"s"},"finish_reason":"length"}]})").finish == FinishReason::length);
    CHECK(a->parse_reply({}, R"({"choices":[{"message":{"content":null},"finish_reason":"content_filter"}]})").finish == FinishReason::content_filter);
    CHECK(a->parse_reply({}, R"({"choices":[{"message":{"content":null,"refusal":"No."},"finish_reason":"stop"}]})").finish == FinishReason::content_filter);
}

TEST_CASE("chat: compatibility hazards (missing/duplicate ids, object arguments, stop with calls)", "[providers]") {
    const auto reply = adapter()->parse_reply({}, R"({"choices":[{"index":0,"message":{"content":"","tool_calls":[
      {"type":"function","function":{"name":"add","arguments":{"a":1,"b":2}}},
      {"id":"dup","type":"function","function":{"name":"add","arguments":"{}"}},
      {"id":"dup","type":"function","function":{"name":"add","arguments":"{}"}}]},"finish_reason":"stop"}]})");
    REQUIRE(reply.tool_calls.size() == 3);
    CHECK(reply.finish == FinishReason::tool_calls);
    CHECK(reply.raw_finish_reason == "stop");
    CHECK(reply.tool_calls[0].arguments == R"({"a":1,"b":2})");
    std::set<std::string> ids;
    for (const auto& c : reply.tool_calls) {
        CHECK_FALSE(c.id.empty());
        ids.insert(c.id);
    }
    CHECK(ids.size() == 3);
    CHECK(reply.tool_calls[1].id == "dup");
}

TEST_CASE("chat: stream with text, usage chunk, comments and [DONE]", "[providers]") {
    auto state = adapter()->start_stream({});
    const auto deltas = feed_events(*state, unnamed({
        R"({"id":"c1","object":"chat.completion.chunk","model":"gpt-4.1-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null})",
        R"({"id":"c1","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null})",
        R"({"id":"c1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"usage":null,"obfuscation":"xx"})",
        R"({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})",
        R"({"id":"c1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}})",
        "[DONE]"}));
    CHECK(deltas == std::vector<std::string>{"Hel", "lo"});
    const auto reply = state->finish();
    CHECK(reply.text == "Hello");
    CHECK(reply.finish == FinishReason::stop);
    CHECK(reply.usage.input_tokens == 12);
    CHECK(reply.usage.output_tokens == 2);
    CHECK(reply.model == "gpt-4.1-mini");
}

TEST_CASE("chat: stream accumulates tool-call fragments by index", "[providers]") {
    auto state = adapter()->start_stream({});
    feed_events(*state, unnamed({
        R"({"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"add","arguments":""}}]},"finish_reason":null}]})",
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]},"finish_reason":null}]})",
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"weather","arguments":""}}]},"finish_reason":null}]})",
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1,\"b\":2}"}}]},"finish_reason":null}]})",
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"city\":\"Kyiv\"}"}}]},"finish_reason":null}]})",
        R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})",
        "[DONE]"}));
    const auto reply = state->finish();
    REQUIRE(reply.tool_calls.size() == 2);
    CHECK(reply.tool_calls[0].id == "call_1");
    CHECK(reply.tool_calls[0].name == "add");
    CHECK(reply.tool_calls[0].arguments == R"({"a":1,"b":2})");
    CHECK(reply.tool_calls[1].id == "call_2");
    CHECK(reply.tool_calls[1].arguments == R"({"city":"Kyiv"})");
    CHECK(reply.finish == FinishReason::tool_calls);
}

TEST_CASE("chat: stream hazards (ids repeated each chunk, whole arguments, index reuse, no ids, stop)", "[providers]") {
    auto state = adapter()->start_stream({});
    feed_events(*state, unnamed({
        // id repeated on every chunk of the same call
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"add","arguments":"{\"a\":1,"}}]}}]})",
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"add","arguments":"\"b\":2}"}}]}}]})",
        // a second call reusing index 0 with a new id, arguments whole in one chunk
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_b","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]}}]})",
        // a call without any id
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"name":"add","arguments":"{}"}}]}}]})",
        R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"}));
    const auto reply = state->finish();  // no [DONE]: the finish reason is enough
    REQUIRE(reply.tool_calls.size() == 3);
    CHECK(reply.tool_calls[0].arguments == R"({"a":1,"b":2})");
    CHECK(reply.tool_calls[1].id == "call_b");
    CHECK(reply.tool_calls[1].arguments == R"({"city":"Rome"})");
    CHECK_FALSE(reply.tool_calls[2].id.empty());
    CHECK(reply.finish == FinishReason::tool_calls);
}

TEST_CASE("chat: error payload inside a 200 stream raises; truncated stream raises", "[providers]") {
    auto state = adapter()->start_stream({});
    std::vector<std::string> deltas;
    state->on_event("", R"({"choices":[{"index":0,"delta":{"content":"par"}}]})", deltas);
    try {
        state->on_event("", R"({"error":{"message":"upstream failed","type":"server_error","code":502},"choices":[{"index":0,"delta":{},"finish_reason":"error"}]})", deltas);
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::stream);
        CHECK(e.diagnostics().error_code == "502");
        CHECK(e.retryable());
        CHECK_THAT(e.what(), Catch::Contains("upstream failed"));
    }
    auto cut = adapter()->start_stream({});
    cut->on_event("", R"({"choices":[{"index":0,"delta":{"content":"par"}}]})", deltas);
    CHECK_THROWS_AS(cut->finish(), CommandError);
}

TEST_CASE("chat: error bodies from OpenAI and compatible servers", "[providers]") {
    auto a = adapter();
    const auto vllm = a->parse_error(400, {}, R"({"error":{"message":"auto tool choice requires --enable-auto-tool-choice","type":"BadRequestError","param":null,"code":400}})");
    CHECK(vllm.error_code == "400");
    CHECK(vllm.error_type == "BadRequestError");
    CHECK_FALSE(vllm.retryable);
    const auto openrouter = a->parse_error(402, {}, R"({"error":{"code":402,"message":"Insufficient credits"}})");
    CHECK_FALSE(openrouter.retryable);
    CHECK(openrouter.message == "Insufficient credits");
    const auto busy = a->parse_error(503, headers_of({{"Retry-After", "2"}}), R"({"error":{"code":503,"message":"No provider available"}})");
    CHECK(busy.retryable);
    CHECK(busy.retry_after == std::chrono::milliseconds(2000));
    const auto plain = a->parse_error(500, {}, R"({"error":"model crashed"})");
    CHECK(plain.message == "model crashed");
    CHECK(plain.retryable);
}

namespace {

void check_same(const providers::detail::ChatReplyFields& scan, const providers::detail::ChatReplyFields& tree) {
    CHECK(scan.model == tree.model);
    CHECK(scan.text == tree.text);
    CHECK(scan.refused == tree.refused);
    CHECK(scan.finish_reason == tree.finish_reason);
    REQUIRE(scan.usage.has_value() == tree.usage.has_value());
    if (tree.usage) {
        CHECK(scan.usage->input_tokens == tree.usage->input_tokens);
        CHECK(scan.usage->output_tokens == tree.usage->output_tokens);
        CHECK(scan.usage->cached_tokens == tree.usage->cached_tokens);
        CHECK(scan.usage->reasoning_tokens == tree.usage->reasoning_tokens);
    }
    REQUIRE(scan.tool_calls.size() == tree.tool_calls.size());
    for (std::size_t i = 0; i < tree.tool_calls.size(); ++i) {
        CHECK(scan.tool_calls[i].id == tree.tool_calls[i].id);
        CHECK(scan.tool_calls[i].name == tree.tool_calls[i].name);
        CHECK(scan.tool_calls[i].arguments == tree.tool_calls[i].arguments);
    }
}

// The error text a read raises, or "" when it succeeds.
template <class Read>
std::string error_of(Read read) {
    try {
        read();
        return {};
    } catch (const CommandError& e) {
        return e.what();
    }
}

std::string nested(int depth) {
    return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']');
}

}  // namespace

TEST_CASE("chat: the one-pass reply scan reads every body as the JSON tree does", "[providers]") {
    const std::string long_text = [] {
        std::string t;
        for (int i = 0; i < 2000; ++i) t += "line\\n \\\"q\\\" \\u00e9 ";  // escapes force the parser to deliver parts
        return t;
    }();
    struct Body {
        std::string text;
        bool scanned;  ///< the scan reads it itself (false: it declines and the tree reads it)
    };
    const std::vector<Body> bodies = {
        // ordinary replies
        {R"({"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":7,"total_tokens":57,"prompt_tokens_details":{"cached_tokens":32},"completion_tokens_details":{"reasoning_tokens":3}}})", true},
        {R"({"choices":[{"message":{"content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"add","arguments":"{\"a\":1}"}},{"id":"b","function":{"name":"w","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})", true},
        {R"({"choices":[{"message":{"content":"{\"sum\":5,\"s\":\"\u00e9\ud83d\ude00\"}"},"finish_reason":"stop"}]})", true},
        {R"({"choices":[{"message":{"content":")" + long_text + R"("},"finish_reason":"length"}],"model":"m2"})", true},
        {R"({"choices":[{"message":{"con\u0074ent":"escaped key"},"finish_reason":"stop"}]})", true},
        {R"({"choices":[{"message":{"content":null,"refusal":"No."},"finish_reason":"stop"}]})", true},
        {R"({"choices":[{"message":{"content":"x","refusal":true},"finish_reason":"content_filter"}]})", true},
        // odd but readable shapes
        {R"({"model":5,"choices":[{"message":{"content":["a"],"tool_calls":[1,"x",null,[{"id":"no"}],{"function":{"name":"n","arguments":null}},{"id":7}]},"finish_reason":9}]})", true},
        {R"({"choices":[{"message":"text"},{"message":{"content":"second choice"}}],"usage":"none"})", true},
        {R"({"choices":[{"message":{"content":"a"}},7,[1]],"usage":{"prompt_tokens":1.9,"completion_tokens":18446744073709551615,"prompt_tokens_details":3,"completion_tokens_details":{"reasoning_tokens":"4"}}})", true},
        {R"({"x":{"model":"inner","choices":[],"error":1,"content":"no"},"choices":[{"message":{"content":"ok","x":{"content":"no"}}}],"y":)" + nested(25) + "}", true},
        {R"({"choices":[{"message":{"content":"a","tool_calls":[{"id":"dup","function":{"name":"a","arguments":""}},{"id":"dup","function":{"name":"b"}}]}}]})", true},
        // bodies the scan leaves to the tree
        {R"({"choices":[{"message":{"content":"","tool_calls":[{"type":"function","function":{"name":"add","arguments":{"a":1,"b":2}}}]},"finish_reason":"stop"}]})", false},
        {R"({"choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":12}}]}}]})", false},
        {R"({"choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":[1]}}]}}]})", false},
        {R"({"choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":false}}]}}]})", false},
        {R"({"choices":[{"message":{"content":"first","content":"last"}}]})", false},
        {R"({"choices":[{"message":{"content":"first"},"message":{"refusal":"r"}}]})", false},
        {R"({"usage":{"prompt_tokens":1},"usage":{"completion_tokens":2},"choices":[{"message":{"content":"u"}}]})", false},
        {R"({"choices":[{"message":{"content":"a"}}],"choices":[{"message":{"content":"b"}}]})", false},
        {R"({"error":{"message":"overloaded","type":"server_error","code":503}})", false},
        {R"({"choices":[{"message":{"content":"a"}}],"error":null})", false},
        {R"({"choices":[]})", false},
        {R"({"choices":[1,{"message":{"content":"a"}}]})", false},
        {R"({"choices":[[{"message":{"content":"a"}}]]})", false},
        {R"({"choices":{"message":{"content":"a"}}})", false},
        {R"({"model":"m"})", false},
        {R"({})", false},
        {R"([{"choices":[]}])", false},
        {R"("text")", false},
        {R"({"choices":[{"message":{"content":"a"}}]} trailing)", false},
        {R"({"choices":[{"message":{"content":"a"}})", false},
        {"", false},
        {"{\"choices\":[{\"message\":{\"content\":\"bad \xff utf8\"}}]}", false},
        {R"({"choices":[{"message":{"content":"a"}}],"deep":)" + nested(40) + "}", false},
    };
    const auto a = adapter();
    const http::Headers headers = headers_of({{"x-request-id", "req_9"}});
    for (const auto& body : bodies) {
        INFO(body.text.substr(0, 200));
        const auto scanned = providers::detail::scan_chat_reply(body.text);
        CHECK(scanned.has_value() == body.scanned);
        const std::string tree_error =
            error_of([&] { providers::detail::read_chat_reply_tree(headers, body.text); });
        if (scanned) {
            REQUIRE(tree_error.empty());  // the scan accepts nothing the tree rejects
            check_same(*scanned, providers::detail::read_chat_reply_tree(headers, body.text));
        }
        // The adapter raises exactly what the tree raises (the scan declines all of those bodies).
        CHECK(error_of([&] { a->parse_reply(headers, body.text); }) == tree_error);
    }
}
