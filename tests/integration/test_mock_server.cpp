// The mock provider server over loopback, driven by a plain synchronous Beast client.
#include "support/mock_http.hpp"

#include "alloy/mock/server.hpp"
#include "mock/schema_values.hpp"
#include "mock/script.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <atomic>
#include <thread>

using namespace mocktest;
using alloy::mock::Fault;
using alloy::mock::Server;
using alloy::mock::ServerOptions;
using namespace std::chrono_literals;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers anthropic_headers{{"x-api-key", "sk-ant-secret"}, {"anthropic-version", "2023-06-01"}};
const Headers gemini_headers{{"x-goog-api-key", "g-secret"}};

// Two tools with different parameter schemas, in each provider's declaration shape.
json::value add_schema() {
    return json::parse(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer","minimum":5}},
                          "required":["a","b"],"additionalProperties":false})");
}
json::value weather_schema() {
    return json::parse(R"({"type":"object","properties":{"city":{"type":"string"},
                          "unit":{"type":"string","enum":["celsius","fahrenheit"]},
                          "days":{"type":"array","items":{"type":"integer"}},"precise":{"type":"boolean"}},
                          "required":["city"]})");
}
json::value invoice_schema() {
    return json::parse(R"({"type":"object","properties":{
        "vendor":{"type":"string"},"total":{"type":"number"},"count":{"type":"integer"},
        "items":{"type":"array","items":{"$ref":"#/$defs/Item"}},
        "note":{"anyOf":[{"type":"null"},{"type":"string"}]},
        "status":{"type":"string","enum":["open","paid"]},"when":{"type":"string","format":"date"}},
        "required":["vendor","total","count","items","note","status","when"],"additionalProperties":false,
        "$defs":{"Item":{"type":"object","properties":{"sku":{"type":"string"},"qty":{"type":"integer"}},
                         "required":["sku","qty"],"additionalProperties":false}}})");
}

json::array chat_tools() {
    return {json::object{{"type", "function"}, {"function", {{"name", "add"}, {"parameters", add_schema()}}}},
            json::object{{"type", "function"}, {"function", {{"name", "weather"}, {"parameters", weather_schema()}}}}};
}

json::object chat_request(std::string text) {
    return {{"model", "gpt-test"}, {"messages", json::array{json::object{{"role", "user"}, {"content", std::move(text)}}}}};
}

const json::value& schema_for(const std::string& tool) {
    static const json::value add = add_schema();
    static const json::value weather = weather_schema();
    return tool == "add" ? add : weather;
}

}  // namespace

TEST_CASE("schema values are deterministic and valid for their schemas", "[mock]") {
    const json::value schema = invoice_schema();
    const json::value v = alloy::mock::detail::value_for_schema(schema);
    CHECK(schema_valid(v, schema));
    CHECK(v.at("vendor") == "x");
    CHECK(v.at("total") == 1.5);
    CHECK(v.at("count") == 1);
    CHECK(v.at("items").as_array().size() == 1);
    CHECK(v.at("items").at(0).at("qty") == 2);  // integers count up in document order
    CHECK(v.at("note") == "x");                   // first non-null anyOf branch
    CHECK(v.at("status") == "open");
    CHECK(v.at("when") == "2024-01-01");
    CHECK(alloy::mock::detail::value_for_schema(add_schema()).at("b") == 5);  // clamped to minimum

    // A wrapped primitive root and Gemini's upper-case OpenAPI types.
    const json::value wrapped = json::parse(R"({"type":"object","properties":{"value":{"type":"array","items":{"type":"integer"}}},"required":["value"]})");
    CHECK(json::serialize(alloy::mock::detail::value_for_schema(wrapped)) == R"({"value":[1]})");
    const json::value gemini = json::parse(R"({"type":"OBJECT","properties":{"n":{"type":"NUMBER"},"ok":{"type":"BOOLEAN"}},"propertyOrdering":["ok","n"]})");
    CHECK(json::serialize(alloy::mock::detail::value_for_schema(gemini)) == R"({"ok":true,"n":1.5E0})");
    // A recursive schema terminates.
    const json::value tree = json::parse(R"({"type":"object","properties":{"child":{"$ref":"#"}},"required":["child"]})");
    CHECK(alloy::mock::detail::value_for_schema(tree).is_object());
}

TEST_CASE("directives and stream splitting", "[mock]") {
    using namespace alloy::mock::detail;
    const auto d = parse_directives(R"(go [[call add {"a":1,"b":[[2]]}]] [[call weather]] [[chunks 4]] [[reply done ok]])");
    REQUIRE(d.calls.size() == 2);
    CHECK(d.calls[0].name == "add");
    CHECK(d.calls[0].args_text == R"({"a":1,"b":[[2]]})");
    CHECK(d.calls[1].name == "weather");
    CHECK(d.calls[1].args_text == "{}");
    CHECK(d.chunks == 4u);
    CHECK(d.reply == std::string("done ok"));
    CHECK(parse_directives("[[loop]] [[empty]] [[no_tools]]").loop);

    auto pieces = split_pieces("one two three four", std::nullopt);
    CHECK(pieces == std::vector<std::string>{"one ", "two ", "three ", "four"});
    pieces = split_pieces("abcdef", std::nullopt);
    CHECK(pieces.size() == 3);
    pieces = split_pieces("h\xC3\xA9llo w\xC3\xB6rld", 10);
    std::string joined;
    for (const auto& p : pieces) {
        joined += p;
        CHECK((static_cast<unsigned char>(p.front()) & 0xC0) != 0x80);  // never starts mid-character
    }
    CHECK(pieces.size() == 10);
    CHECK(joined == "h\xC3\xA9llo w\xC3\xB6rld");
}

TEST_CASE("OpenAI Chat: text, typed, parallel tools, follow-up, recorded requests", "[mock]") {
    Server server;
    Client c(server.port());

    auto r = c.post("/v1/chat/completions", chat_request("Hello mock"), {{"authorization", "Bearer sk-secret"}});
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "application/json");
    CHECK(!r.header("x-request-id").empty());
    auto j = r.json();
    CHECK(j.at("object") == "chat.completion");
    CHECK(j.at("model") == "gpt-test");
    CHECK(j.at("choices").at(0).at("message").at("content") == "Mock reply: Hello mock");
    CHECK(j.at("choices").at(0).at("finish_reason") == "stop");
    CHECK(j.at("usage").at("prompt_tokens").as_int64() >= 1);
    CHECK(j.at("usage").at("total_tokens").as_int64() ==
          j.at("usage").at("prompt_tokens").as_int64() + j.at("usage").at("completion_tokens").as_int64());

    // Typed: response_format json_schema → schema-valid JSON text.
    auto typed = chat_request("Extract");
    typed["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "Invoice"}, {"schema", invoice_schema()}, {"strict", true}}}};
    r = c.post("/v1/chat/completions", typed);
    REQUIRE(r.status == 200);
    const auto content = r.json().at("choices").at(0).at("message").at("content").as_string();
    CHECK(schema_valid(json::parse(content), invoice_schema()));

    // Tools offered, no directive: every tool called once, in one turn.
    auto with_tools = chat_request("Use tools");
    with_tools["tools"] = chat_tools();
    r = c.post("/v1/chat/completions", with_tools);
    REQUIRE(r.status == 200);
    j = r.json();
    CHECK(j.at("choices").at(0).at("finish_reason") == "tool_calls");
    CHECK(j.at("choices").at(0).at("message").at("content").is_null());
    const auto& calls = j.at("choices").at(0).at("message").at("tool_calls").as_array();
    REQUIRE(calls.size() == 2);
    std::vector<std::string> ids;
    for (const auto& call : calls) {
        const std::string name(call.at("function").at("name").as_string());
        const auto args = json::parse(call.at("function").at("arguments").as_string());
        CHECK(call.at("type") == "function");
        CHECK(schema_valid(args, schema_for(name)));
        ids.emplace_back(call.at("id").as_string());
    }
    CHECK(ids[0] != ids[1]);

    // Follow-up with results: the final text lists them in order.
    auto follow = with_tools;
    auto& msgs = follow["messages"].as_array();
    msgs.push_back(json::object{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}});
    msgs.push_back(json::object{{"role", "tool"}, {"tool_call_id", ids[0]}, {"content", "3"}});
    msgs.push_back(json::object{{"role", "tool"}, {"tool_call_id", ids[1]}, {"content", json::array{json::object{{"type", "text"}, {"text", "sunny"}}}}});
    r = c.post("/v1/chat/completions", follow);
    REQUIRE(r.status == 200);
    CHECK(r.json().at("choices").at(0).at("message").at("content") == "Tool results: 3, sunny");

    // Typed follow-up answers with schema JSON.
    follow["response_format"] = typed["response_format"];
    r = c.post("/v1/chat/completions", follow);
    CHECK(schema_valid(json::parse(r.json().at("choices").at(0).at("message").at("content").as_string()), invoice_schema()));

    // Recorded requests keep bodies and redact credentials.
    const auto recorded = server.requests();
    REQUIRE(recorded.size() == 5);
    CHECK(recorded[0].method == "POST");
    CHECK(recorded[0].target == "/v1/chat/completions");
    CHECK(recorded[0].header("Authorization") == std::string("Bearer [redacted]"));
    CHECK(recorded[0].body.at("model") == "gpt-test");
    CHECK(server.stats().requests == 5);
    CHECK(server.stats().connections_accepted == 1);
}

TEST_CASE("OpenAI Chat streams: text pieces, tool-call fragments, usage chunk, [DONE]", "[mock]") {
    Server server;
    Client c(server.port());

    auto req = chat_request("Stream a few words please");
    req["stream"] = true;
    req["stream_options"] = {{"include_usage", true}};
    auto r = c.post("/v1/chat/completions", req);
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type").rfind("text/event-stream", 0) == 0);
    CHECK(r.header("transfer-encoding") == "chunked");
    auto events = parse_sse(r.body);
    REQUIRE(events.size() >= 5);
    CHECK(events.back().data == "[DONE]");
    auto first = json::parse(events[0].data);
    CHECK(first.at("object") == "chat.completion.chunk");
    CHECK(first.at("choices").at(0).at("delta").at("role") == "assistant");
    CHECK(first.at("usage").is_null());
    std::string text;
    std::size_t content_chunks = 0;
    for (std::size_t i = 1; i + 3 < events.size(); ++i) {
        auto e = json::parse(events[i].data);
        text += e.at("choices").at(0).at("delta").at("content").as_string();
        ++content_chunks;
    }
    CHECK(content_chunks >= 2);
    CHECK(text == "Mock reply: Stream a few words please");
    auto finish = json::parse(events[events.size() - 3].data);
    CHECK(finish.at("choices").at(0).at("finish_reason") == "stop");
    auto usage = json::parse(events[events.size() - 2].data);
    CHECK(usage.at("choices").as_array().empty());
    CHECK(usage.at("usage").at("completion_tokens").as_int64() >= 1);

    // Tool calls: first fragment has id, name and "" arguments; later ones carry pieces by index.
    auto tools = chat_request("call please");
    tools["tools"] = chat_tools();
    tools["stream"] = true;
    r = c.post("/v1/chat/completions", tools);
    events = parse_sse(r.body);
    REQUIRE(events.back().data == "[DONE]");
    std::map<std::int64_t, std::string> args, names;
    std::size_t fragments = 0;
    std::string finish_reason;
    for (const auto& e : events) {
        if (e.data == "[DONE]") continue;
        auto chunk = json::parse(e.data);
        CHECK(!chunk.as_object().contains("usage"));  // include_usage not requested
        const auto& choice = chunk.at("choices").at(0);
        if (!choice.at("finish_reason").is_null()) finish_reason = choice.at("finish_reason").as_string();
        const auto* tc = choice.at("delta").as_object().if_contains("tool_calls");
        if (!tc) continue;
        const auto& frag = tc->at(0).as_object();
        const auto index = frag.at("index").as_int64();
        if (frag.contains("id")) {
            CHECK(frag.at("function").at("arguments") == "");
            CHECK(frag.at("type") == "function");
            names[index] = frag.at("function").at("name").as_string();
        } else {
            CHECK(!frag.at("function").as_object().contains("name"));
            args[index] += frag.at("function").at("arguments").as_string();
            ++fragments;
        }
    }
    CHECK(finish_reason == "tool_calls");
    REQUIRE(names.size() == 2);
    CHECK(fragments >= 4);
    for (const auto& [i, a] : args) CHECK(schema_valid(json::parse(a), schema_for(names[i])));
}

TEST_CASE("OpenAI Responses: text, typed, tools, follow-up and the event sequence", "[mock]") {
    Server server;
    Client c(server.port());
    json::object req{{"model", "gpt-test"}, {"input", "Hi responses"}};
    auto r = c.post("/v1/responses", req);
    REQUIRE(r.status == 200);
    auto j = r.json();
    CHECK(j.at("object") == "response");
    CHECK(j.at("status") == "completed");
    CHECK(j.at("output").at(0).at("type") == "message");
    CHECK(j.at("output").at(0).at("content").at(0).at("type") == "output_text");
    CHECK(j.at("output").at(0).at("content").at(0).at("text") == "Mock reply: Hi responses");
    CHECK(j.at("usage").at("output_tokens").as_int64() >= 1);

    auto typed = req;
    typed["text"] = {{"format", {{"type", "json_schema"}, {"name", "Invoice"}, {"schema", invoice_schema()}, {"strict", true}}}};
    r = c.post("/v1/responses", typed);
    CHECK(schema_valid(json::parse(r.json().at("output").at(0).at("content").at(0).at("text").as_string()), invoice_schema()));

    json::object tools_req{{"model", "gpt-test"},
                           {"input", json::array{json::object{{"role", "user"}, {"content", json::array{json::object{{"type", "input_text"}, {"text", "go"}}}}}}},
                           {"tools", json::array{json::object{{"type", "function"}, {"name", "add"}, {"parameters", add_schema()}, {"strict", true}},
                                                 json::object{{"type", "function"}, {"name", "weather"}, {"parameters", weather_schema()}, {"strict", false}}}}};
    r = c.post("/v1/responses", tools_req);
    j = r.json();
    const auto& output = j.at("output").as_array();
    REQUIRE(output.size() == 2);
    auto input = tools_req["input"].as_array();
    for (const auto& item : output) {
        CHECK(item.at("type") == "function_call");
        CHECK(item.at("status") == "completed");
        CHECK(item.at("id") != item.at("call_id"));
        CHECK(schema_valid(json::parse(item.at("arguments").as_string()), schema_for(std::string(item.at("name").as_string()))));
        input.push_back(item);
        input.push_back(json::object{{"type", "function_call_output"}, {"call_id", item.at("call_id")}, {"output", "ok-" + std::string(item.at("name").as_string())}});
    }
    auto follow = tools_req;
    follow["input"] = input;
    r = c.post("/v1/responses", follow);
    CHECK(r.json().at("output").at(0).at("content").at(0).at("text") == "Tool results: ok-add, ok-weather");

    // Chat-style tool messages are rejected, as the real API does.
    auto bad = tools_req;
    bad["input"].as_array().push_back(json::object{{"role", "tool"}, {"content", "x"}});
    CHECK(c.post("/v1/responses", bad).status == 400);

    // Stream: the named event sequence for text.
    req["stream"] = true;
    r = c.post("/v1/responses", req);
    auto events = parse_sse(r.body);
    std::vector<std::string> names;
    std::string text;
    for (std::size_t i = 0; i < events.size(); ++i) {
        auto data = json::parse(events[i].data);
        CHECK(data.at("type").as_string() == events[i].event);
        CHECK(data.at("sequence_number") == static_cast<std::int64_t>(i));
        if (events[i].event == "response.output_text.delta") text += data.at("delta").as_string();
        if (names.empty() || names.back() != events[i].event) names.push_back(events[i].event);
    }
    CHECK(names == std::vector<std::string>{"response.created", "response.in_progress", "response.output_item.added",
                                            "response.content_part.added", "response.output_text.delta",
                                            "response.output_text.done", "response.content_part.done",
                                            "response.output_item.done", "response.completed"});
    CHECK(text == "Mock reply: Hi responses");
    CHECK(json::parse(events.back().data).at("response").at("usage").at("total_tokens").as_int64() >= 2);

    // Stream: function calls.
    tools_req["stream"] = true;
    events = parse_sse(c.post("/v1/responses", tools_req).body);
    std::map<std::string, std::string> args, item_names;
    for (const auto& e : events) {
        auto data = json::parse(e.data);
        if (e.event == "response.output_item.added") {
            CHECK(data.at("item").at("arguments") == "");
            item_names[std::string(data.at("item").at("id").as_string())] = data.at("item").at("name").as_string();
        } else if (e.event == "response.function_call_arguments.delta") {
            args[std::string(data.at("item_id").as_string())] += data.at("delta").as_string();
        } else if (e.event == "response.function_call_arguments.done") {
            CHECK(data.at("arguments").as_string() == args[std::string(data.at("item_id").as_string())]);
        }
    }
    REQUIRE(args.size() == 2);
    for (const auto& [id, a] : args) CHECK(schema_valid(json::parse(a), schema_for(item_names[id])));
    CHECK(events.back().event == "response.completed");
}

TEST_CASE("Anthropic Messages: auth headers, text, typed, forced tool, tools and the stream", "[mock]") {
    Server server;
    Client c(server.port());
    json::object req{{"model", "claude-test"}, {"max_tokens", 100},
                     {"messages", json::array{json::object{{"role", "user"}, {"content", "Hello claude"}}}}};

    auto r = c.post("/v1/messages", req, {{"anthropic-version", "2023-06-01"}});
    CHECK(r.status == 401);
    CHECK(r.json().at("type") == "error");
    CHECK(r.json().at("error").at("type") == "authentication_error");
    r = c.post("/v1/messages", req, {{"x-api-key", "k"}});
    CHECK(r.status == 400);
    CHECK(r.json().at("error").at("type") == "invalid_request_error");

    r = c.post("/v1/messages", req, anthropic_headers);
    REQUIRE(r.status == 200);
    CHECK(!r.header("request-id").empty());
    auto j = r.json();
    CHECK(j.at("type") == "message");
    CHECK(j.at("content").at(0).at("type") == "text");
    CHECK(j.at("content").at(0).at("text") == "Mock reply: Hello claude");
    CHECK(j.at("stop_reason") == "end_turn");
    CHECK(j.at("usage").at("input_tokens").as_int64() >= 1);

    auto typed = req;
    typed["output_config"] = {{"format", {{"type", "json_schema"}, {"schema", invoice_schema()}}}};
    r = c.post("/v1/messages", typed, anthropic_headers);
    CHECK(schema_valid(json::parse(r.json().at("content").at(0).at("text").as_string()), invoice_schema()));

    // Structured output through a forced tool.
    auto forced = req;
    forced["tools"] = json::array{json::object{{"name", "json"}, {"input_schema", invoice_schema()}},
                                  json::object{{"name", "add"}, {"input_schema", add_schema()}}};
    forced["tool_choice"] = {{"type", "tool"}, {"name", "json"}};
    r = c.post("/v1/messages", forced, anthropic_headers);
    j = r.json();
    REQUIRE(j.at("content").as_array().size() == 1);
    CHECK(j.at("content").at(0).at("name") == "json");
    CHECK(j.at("stop_reason") == "tool_use");
    CHECK(schema_valid(j.at("content").at(0).at("input"), invoice_schema()));

    auto tools = req;
    tools["tools"] = json::array{json::object{{"name", "add"}, {"input_schema", add_schema()}},
                                 json::object{{"name", "weather"}, {"input_schema", weather_schema()}}};
    j = c.post("/v1/messages", tools, anthropic_headers).json();
    const auto& blocks = j.at("content").as_array();
    REQUIRE(blocks.size() == 2);
    json::array results;
    for (const auto& b : blocks) {
        CHECK(b.at("type") == "tool_use");
        CHECK(b.at("input").is_object());
        CHECK(schema_valid(b.at("input"), schema_for(std::string(b.at("name").as_string()))));
        results.push_back(json::object{{"type", "tool_result"}, {"tool_use_id", b.at("id")},
                                       {"content", json::array{json::object{{"type", "text"}, {"text", "r-" + std::string(b.at("name").as_string())}}}}});
    }
    auto follow = tools;
    follow["messages"].as_array().push_back(json::object{{"role", "assistant"}, {"content", blocks}});
    follow["messages"].as_array().push_back(json::object{{"role", "user"}, {"content", results}});
    r = c.post("/v1/messages", follow, anthropic_headers);
    CHECK(r.json().at("content").at(0).at("text") == "Tool results: r-add, r-weather");

    // Stream: message_start, block start, ping, deltas, block stop, message_delta, message_stop.
    req["stream"] = true;
    auto events = parse_sse(c.post("/v1/messages", req, anthropic_headers).body);
    std::vector<std::string> names;
    std::string text;
    for (const auto& e : events) {
        auto data = json::parse(e.data);
        CHECK(data.at("type").as_string() == e.event);
        if (e.event == "content_block_delta") text += data.at("delta").at("text").as_string();
        if (names.empty() || names.back() != e.event) names.push_back(e.event);
    }
    CHECK(names == std::vector<std::string>{"message_start", "content_block_start", "ping", "content_block_delta",
                                            "content_block_stop", "message_delta", "message_stop"});
    CHECK(text == "Mock reply: Hello claude");
    CHECK(std::count_if(events.begin(), events.end(), [](auto& e) { return e.event == "content_block_delta"; }) >= 2);
    auto delta = json::parse(events[events.size() - 2].data);
    CHECK(delta.at("delta").at("stop_reason") == "end_turn");
    CHECK(delta.at("usage").at("output_tokens").as_int64() >= 1);

    tools["stream"] = true;
    events = parse_sse(c.post("/v1/messages", tools, anthropic_headers).body);
    std::map<std::int64_t, std::string> partial, tool_names;
    for (const auto& e : events) {
        auto data = json::parse(e.data);
        if (e.event == "content_block_start") {
            CHECK(data.at("content_block").at("type") == "tool_use");
            CHECK(data.at("content_block").at("input").as_object().empty());
            tool_names[data.at("index").as_int64()] = data.at("content_block").at("name").as_string();
        } else if (e.event == "content_block_delta") {
            CHECK(data.at("delta").at("type") == "input_json_delta");
            partial[data.at("index").as_int64()] += data.at("delta").at("partial_json").as_string();
        }
    }
    REQUIRE(partial.size() == 2);
    for (const auto& [i, p] : partial) CHECK(schema_valid(json::parse(p), schema_for(tool_names[i])));
    CHECK(json::parse(events[events.size() - 2].data).at("delta").at("stop_reason") == "tool_use");
}

TEST_CASE("Gemini: api key, text, typed, function calls with thought signatures, streams", "[mock]") {
    Server server;
    Client c(server.port());
    const std::string path = "/v1beta/models/gemini-test:generateContent";
    json::object req{{"contents", json::array{json::object{{"role", "user"}, {"parts", json::array{json::object{{"text", "Hello gemini"}}}}}}}};

    auto r = c.post(path, req);
    CHECK(r.status == 403);
    CHECK(r.json().at("error").at("status") == "PERMISSION_DENIED");
    CHECK(r.json().at("error").at("code") == 403);

    r = c.post(path + "?key=secret", req);
    REQUIRE(r.status == 200);
    auto j = r.json();
    CHECK(j.at("candidates").at(0).at("content").at("parts").at(0).at("text") == "Mock reply: Hello gemini");
    CHECK(j.at("candidates").at(0).at("finishReason") == "STOP");
    CHECK(j.at("modelVersion") == "gemini-test");
    CHECK(j.at("usageMetadata").at("totalTokenCount").as_int64() >= 2);
    CHECK(server.requests().back().target == path + "?key=[redacted]");

    auto typed = req;
    typed["generationConfig"] = {{"responseMimeType", "application/json"}, {"responseJsonSchema", invoice_schema()}};
    r = c.post(path, typed, gemini_headers);
    CHECK(schema_valid(json::parse(r.json().at("candidates").at(0).at("content").at("parts").at(0).at("text").as_string()), invoice_schema()));

    auto tools = req;
    tools["tools"] = json::array{json::object{{"functionDeclarations", json::array{
        json::object{{"name", "add"}, {"parametersJsonSchema", add_schema()}},
        json::object{{"name", "weather"}, {"parametersJsonSchema", weather_schema()}}}}}};
    j = c.post(path, tools, gemini_headers).json();
    const auto& parts = j.at("candidates").at(0).at("content").at("parts").as_array();
    REQUIRE(parts.size() == 2);
    CHECK(parts[0].as_object().contains("thoughtSignature"));
    CHECK(!parts[1].as_object().contains("thoughtSignature"));
    json::array responses;
    for (const auto& p : parts) {
        const auto& call = p.at("functionCall");
        CHECK(!call.at("id").as_string().empty());
        CHECK(call.at("args").is_object());
        CHECK(schema_valid(call.at("args"), schema_for(std::string(call.at("name").as_string()))));
        responses.push_back(json::object{{"functionResponse", {{"id", call.at("id")}, {"name", call.at("name")},
                                                               {"response", {{"output", "g-" + std::string(call.at("name").as_string())}}}}}});
    }
    auto follow = tools;
    follow["contents"].as_array().push_back(json::object{{"role", "model"}, {"parts", parts}});
    follow["contents"].as_array().push_back(json::object{{"role", "user"}, {"parts", responses}});
    r = c.post(path, follow, gemini_headers);
    REQUIRE(r.status == 200);
    CHECK(r.json().at("candidates").at(0).at("content").at("parts").at(0).at("text") == "Tool results: g-add, g-weather");

    // Replaying the call without its signature is rejected like the real service does.
    auto unsigned_parts = parts;
    unsigned_parts[0].as_object().erase("thoughtSignature");
    follow["contents"].as_array()[1] = json::object{{"role", "model"}, {"parts", unsigned_parts}};
    r = c.post(path, follow, gemini_headers);
    CHECK(r.status == 400);
    CHECK(r.json().at("error").at("status") == "INVALID_ARGUMENT");
    CHECK(std::string(r.json().at("error").at("message").as_string()).find("missing a thought_signature") != std::string::npos);

    // SSE stream: text chunks, the last one with finishReason and full usage; CRLF framing.
    const std::string stream_path = "/v1beta/models/gemini-test:streamGenerateContent?alt=sse";
    r = c.post(stream_path, req, gemini_headers);
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type").rfind("text/event-stream", 0) == 0);
    CHECK(r.body.find("\r\n\r\n") != std::string::npos);
    auto events = parse_sse(r.body);
    REQUIRE(events.size() >= 2);
    std::string text;
    for (std::size_t i = 0; i < events.size(); ++i) {
        auto chunk = json::parse(events[i].data);
        const auto& cand = chunk.at("candidates").at(0);
        text += cand.at("content").at("parts").at(0).at("text").as_string();
        CHECK(cand.as_object().contains("finishReason") == (i + 1 == events.size()));
    }
    CHECK(text == "Mock reply: Hello gemini");
    CHECK(json::parse(events.back().data).at("usageMetadata").as_object().contains("candidatesTokenCount"));

    // Without alt=sse the stream is one JSON array.
    r = c.post("/v1beta/models/gemini-test:streamGenerateContent", req, gemini_headers);
    REQUIRE(r.status == 200);
    CHECK(r.json().as_array().size() >= 2);
}

TEST_CASE("Ollama: NDJSON stream by default, JSON with stream false, tools as objects, typed format", "[mock]") {
    Server server;
    Client c(server.port());
    json::object req{{"model", "llama-test"}, {"messages", json::array{json::object{{"role", "user"}, {"content", "Hello llama"}}}}};
    auto r = c.post("/api/chat", req);
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "application/x-ndjson");
    auto lines = parse_ndjson(r.body);
    REQUIRE(lines.size() >= 3);
    std::string text;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        CHECK(lines[i].at("done") == false);
        text += lines[i].at("message").at("content").as_string();
    }
    CHECK(text == "Mock reply: Hello llama");
    const auto& last = lines.back();
    CHECK(last.at("done") == true);
    CHECK(last.at("done_reason") == "stop");
    CHECK(last.at("prompt_eval_count").as_int64() >= 1);
    CHECK(last.at("eval_count").as_int64() >= 1);

    req["stream"] = false;
    auto j = c.post("/api/chat", req).json();
    CHECK(j.at("message").at("content") == "Mock reply: Hello llama");
    CHECK(j.at("done") == true);

    auto typed = req;
    typed["format"] = invoice_schema();
    j = c.post("/api/chat", typed).json();
    CHECK(schema_valid(json::parse(j.at("message").at("content").as_string()), invoice_schema()));

    auto tools = req;
    tools["tools"] = chat_tools();
    j = c.post("/api/chat", tools).json();
    CHECK(j.at("done_reason") == "stop");
    const auto& calls = j.at("message").at("tool_calls").as_array();
    REQUIRE(calls.size() == 2);
    auto follow = tools;
    follow["messages"].as_array().push_back(j.at("message"));
    for (const auto& call : calls) {
        CHECK(call.at("function").at("arguments").is_object());
        CHECK(schema_valid(call.at("function").at("arguments"), schema_for(std::string(call.at("function").at("name").as_string()))));
        follow["messages"].as_array().push_back(json::object{{"role", "tool"}, {"tool_name", call.at("function").at("name")}, {"content", "o"}});
    }
    CHECK(c.post("/api/chat", follow).json().at("message").at("content") == "Tool results: o, o");

    // Streamed tool calls arrive whole in one line.
    tools.erase("stream");
    lines = parse_ndjson(c.post("/api/chat", tools).body);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].at("message").at("tool_calls").as_array().size() == 2);

    r = c.post("/api/chat", json::object{{"messages", json::array{}}});
    CHECK(r.status == 400);
    CHECK(r.json().at("error").is_string());
}

TEST_CASE("directives drive calls, loops, replies, empty answers and chunk counts", "[mock]") {
    Server server;
    Client c(server.port());
    auto req = chat_request(R"(Please [[call add {"a":40,"b":2}]] [[call weather {"city":"Oslo"}]])");
    req["tools"] = chat_tools();
    auto j = c.post("/v1/chat/completions", req).json();
    const auto& calls = j.at("choices").at(0).at("message").at("tool_calls").as_array();
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].at("function").at("arguments") == R"({"a":40,"b":2})");
    CHECK(calls[1].at("function").at("arguments") == R"({"city":"Oslo"})");

    // [[loop]] keeps calling the first tool even after results.
    req = chat_request("[[loop]]");
    req["tools"] = chat_tools();
    for (int turn = 0; turn < 3; ++turn) {
        j = c.post("/v1/chat/completions", req).json();
        const auto& tc = j.at("choices").at(0).at("message").at("tool_calls").as_array();
        REQUIRE(tc.size() == 1);
        CHECK(tc[0].at("function").at("name") == "add");
        req["messages"].as_array().push_back(j.at("choices").at(0).at("message"));
        req["messages"].as_array().push_back(json::object{{"role", "tool"}, {"tool_call_id", tc[0].at("id")}, {"content", "1"}});
    }

    // [[reply]] after tools; [[no_tools]] skips them; [[empty]] answers nothing.
    req = chat_request("[[reply The answer is 42]] [[no_tools]]");
    req["tools"] = chat_tools();
    CHECK(c.post("/v1/chat/completions", req).json().at("choices").at(0).at("message").at("content") == "The answer is 42");
    CHECK(c.post("/v1/chat/completions", chat_request("[[empty]]")).json().at("choices").at(0).at("message").at("content") == "");
    // tool_choice "none" hides the tools too.
    req = chat_request("hi");
    req["tools"] = chat_tools();
    req["tool_choice"] = "none";
    CHECK(c.post("/v1/chat/completions", req).json().at("choices").at(0).at("message").at("content") == "Mock reply: hi");

    // [[chunks N]] sets the number of content pieces.
    req = chat_request("[[reply abcdefghij]] [[chunks 5]]");
    req["stream"] = true;
    auto events = parse_sse(c.post("/v1/chat/completions", req).body);
    CHECK(events.size() == 1 + 5 + 1 + 1);  // role chunk, 5 pieces, finish chunk, [DONE]
}

TEST_CASE("fault injection: provider-shaped errors with retry hints", "[mock]") {
    Server server;
    Client c(server.port());

    Fault f;
    f.status = 429;
    f.retry_after = 1500ms;
    f.code = "rate_limit_exceeded";
    server.push_fault(f);
    auto r = c.post("/v1/chat/completions", chat_request("x"));
    CHECK(r.status == 429);
    CHECK(r.header("retry-after") == "2");
    CHECK(r.json().at("error").at("type") == "rate_limit_exceeded");
    CHECK(r.json().at("error").at("code") == "rate_limit_exceeded");
    CHECK(r.json().at("error").at("param").is_null());
    CHECK(c.post("/v1/chat/completions", chat_request("x")).status == 200);  // times = 1

    f = {};
    f.status = 529;
    f.retry_after = 250ms;
    f.retry_after_in_ms = true;
    f.should_retry = true;
    f.times = 2;
    server.push_fault(f);
    json::object areq{{"model", "c"}, {"max_tokens", 5}, {"messages", json::array{json::object{{"role", "user"}, {"content", "x"}}}}};
    for (int i = 0; i < 2; ++i) {
        r = c.post("/v1/messages", areq, anthropic_headers);
        CHECK(r.status == 529);
        CHECK(r.header("retry-after-ms") == "250");
        CHECK(r.header("x-should-retry") == "true");
        CHECK(r.json().at("type") == "error");
        CHECK(r.json().at("error").at("type") == "overloaded_error");
        CHECK(r.json().at("request_id").is_string());
    }
    CHECK(c.post("/v1/messages", areq, anthropic_headers).status == 200);

    f = {};
    f.status = 429;
    f.retry_after = 3s;
    server.push_fault(f);
    r = c.post("/v1beta/models/g:generateContent", json::object{{"contents", json::array{}}}, gemini_headers);
    CHECK(r.status == 429);
    CHECK(r.json().at("error").at("status") == "RESOURCE_EXHAUSTED");
    bool retry_info = false;
    const auto gemini_error = r.json();
    for (const auto& d : gemini_error.at("error").at("details").as_array())
        if (d.at("@type") == "type.googleapis.com/google.rpc.RetryInfo") retry_info = d.at("retryDelay") == "3s";
    CHECK(retry_info);

    f = {};
    f.status = 500;
    f.message = "boom";
    server.push_fault(f);
    r = c.post("/api/chat", json::object{{"model", "m"}});
    CHECK(r.status == 500);
    CHECK(r.json().at("error") == "boom");

    // A path filter leaves other paths alone; FIFO order.
    f = {};
    f.status = 503;
    f.path_contains = "/responses";
    server.push_fault(f);
    CHECK(c.post("/v1/chat/completions", chat_request("x")).status == 200);
    r = c.post("/v1/responses", json::object{{"model", "m"}, {"input", "x"}});
    CHECK(r.status == 503);
    CHECK(r.json().at("error").at("type") == "server_error");
    CHECK(server.stats().faults_pending == 0);
}

TEST_CASE("fault injection: drops, truncation, malformed JSON, delays", "[mock]") {
    Server server;

    Fault f;
    f.drop_connection = true;
    server.push_fault(f);
    {
        Client c(server.port());
        auto r = c.post("/v1/chat/completions", chat_request("x"));
        CHECK(r.error);
        CHECK(!r.headers_received);
    }
    f = {};
    f.truncate_body = true;
    server.push_fault(f);
    {
        Client c(server.port());
        auto r = c.post("/v1/chat/completions", chat_request("x"));
        CHECK(r.headers_received);
        CHECK(r.status == 200);
        CHECK(r.error);  // the body ends early
    }
    f = {};
    f.malformed_json = true;
    server.push_fault(f);
    {
        Client c(server.port());
        auto r = c.post("/v1/chat/completions", chat_request("x"));
        CHECK(r.status == 200);
        CHECK(!r.error);
        std::error_code ec;
        (void)json::parse(r.body, ec);
        CHECK(ec);
        // Keep-alive survives a malformed (but complete) body.
        CHECK(c.post("/v1/chat/completions", chat_request("x")).status == 200);
    }
    // Stream truncated after N events: no [DONE], connection cut.
    f = {};
    f.truncate_stream_after = 2;
    server.push_fault(f);
    {
        Client c(server.port());
        auto req = chat_request("one two three four");
        req["stream"] = true;
        auto r = c.post("/v1/chat/completions", req);
        CHECK(r.status == 200);
        CHECK(r.error);
        CHECK(parse_sse(r.body).size() == 2);
    }
    // Malformed event in a stream.
    f = {};
    f.malformed_json = true;
    server.push_fault(f);
    {
        Client c(server.port());
        json::object req{{"model", "m"}, {"messages", json::array{json::object{{"role", "user"}, {"content", "hi"}}}}};
        auto r = c.post("/api/chat", req);
        CHECK(r.status == 200);
        CHECK_THROWS(parse_ndjson(r.body));
    }
    // Delay before headers and between chunks.
    f = {};
    f.delay_before_headers = 150ms;
    f.delay_between_chunks = 30ms;
    server.push_fault(f);
    {
        Client c(server.port());
        auto req = chat_request("one two three four");
        req["stream"] = true;
        const auto start = std::chrono::steady_clock::now();
        auto r = c.post("/v1/chat/completions", req);
        const auto elapsed = std::chrono::steady_clock::now() - start;
        CHECK(r.status == 200);
        CHECK(!r.error);
        CHECK(elapsed >= 150ms + 5 * 30ms);
        CHECK(elapsed < 5s);
    }
}

TEST_CASE("fault injection: error events inside 200 streams, per provider", "[mock]") {
    Server server;
    Client c(server.port());
    Fault f;
    f.stream_error_event = true;
    f.times = 5;
    server.push_fault(f);

    auto creq = chat_request("one two three");
    creq["stream"] = true;
    auto r = c.post("/v1/chat/completions", creq);
    CHECK(r.status == 200);
    auto events = parse_sse(r.body);
    REQUIRE(events.size() == 3);
    CHECK(json::parse(events.back().data).at("error").at("type") == "server_error");

    r = c.post("/v1/responses", json::object{{"model", "m"}, {"input", "one two three"}, {"stream", true}});
    events = parse_sse(r.body);
    REQUIRE(events.size() >= 3);
    CHECK(events[events.size() - 2].event == "error");
    CHECK(json::parse(events[events.size() - 2].data).at("code") == "server_error");
    CHECK(events.back().event == "response.failed");
    CHECK(json::parse(events.back().data).at("response").at("status") == "failed");

    json::object areq{{"model", "c"}, {"max_tokens", 5}, {"stream", true},
                      {"messages", json::array{json::object{{"role", "user"}, {"content", "one two three"}}}}};
    events = parse_sse(c.post("/v1/messages", areq, anthropic_headers).body);
    CHECK(events.back().event == "error");
    CHECK(json::parse(events.back().data).at("error").at("type") == "overloaded_error");
    CHECK(std::none_of(events.begin(), events.end(), [](auto& e) { return e.event == "message_stop"; }));

    json::object greq{{"contents", json::array{json::object{{"role", "user"}, {"parts", json::array{json::object{{"text", "one two three"}}}}}}}};
    events = parse_sse(c.post("/v1beta/models/g:streamGenerateContent?alt=sse", greq, gemini_headers).body);
    REQUIRE(events.size() == 2);
    CHECK(json::parse(events.back().data).at("error").at("status") == "UNAVAILABLE");

    json::object oreq{{"model", "m"}, {"messages", json::array{json::object{{"role", "user"}, {"content", "one two three"}}}}};
    auto lines = parse_ndjson(c.post("/api/chat", oreq).body);
    REQUIRE(lines.size() == 2);
    CHECK(lines.back().at("error").is_string());
}

TEST_CASE("control endpoints over HTTP and require_auth", "[mock]") {
    ServerOptions options;
    options.require_auth = true;
    Server server(options);
    Client c(server.port());

    auto r = c.post("/v1/chat/completions", chat_request("x"));
    CHECK(r.status == 401);
    CHECK(r.json().at("error").at("code") == "invalid_api_key");
    CHECK(c.post("/v1/chat/completions", chat_request("x"), {{"authorization", "Bearer anything"}}).status == 200);

    r = c.request(http::verb::post, "/_mock/faults", R"([{"status":502,"times":2,"path":"chat"},{"drop_connection":true,"path":"never"}])");
    CHECK(r.status == 200);
    CHECK(r.json().at("queued") == 2);
    r = c.request(http::verb::get, "/_mock/stats", "");
    CHECK(r.json().at("faults_pending") == 3);
    CHECK(r.json().at("requests") == 2);
    CHECK(c.post("/v1/chat/completions", chat_request("x"), {{"authorization", "Bearer k"}}).status == 502);
    r = c.request(http::verb::post, "/_mock/faults", R"({"faults":[{"bogus":1}]})");
    CHECK(r.status == 400);
    CHECK(std::string(r.json().at("error").as_string()).find("bogus") != std::string::npos);
    r = c.request(http::verb::get, "/_mock/requests", "");
    REQUIRE(r.json().as_array().size() == 3);
    CHECK(r.json().at(0).at("headers").as_object().contains("host"));
    CHECK(c.request(http::verb::post, "/_mock/reset", "").status == 200);
    CHECK(server.stats().requests == 0);
    CHECK(server.stats().faults_pending == 0);
    CHECK(server.requests().empty());
}

TEST_CASE("unknown paths and bad bodies get provider-shaped errors", "[mock]") {
    Server server;
    Client c(server.port());
    auto r = c.post("/v1/nothing", json::object{});
    CHECK(r.status == 404);
    CHECK(r.json().at("error").at("message").is_string());
    r = c.request(http::verb::post, "/v1/chat/completions", "{not json");
    CHECK(r.status == 400);
    CHECK(r.json().at("error").at("type") == "invalid_request_error");
    r = c.post("/v1/chat/completions", json::object{{"model", "m"}});
    CHECK(r.status == 400);
    r = c.request(http::verb::post, "/v1/messages", "[1]", anthropic_headers);
    CHECK(r.status == 400);
    CHECK(r.json().at("type") == "error");
}

TEST_CASE("recorded requests form a ring, oldest first", "[mock]") {
    ServerOptions options;
    options.max_recorded_requests = 3;
    Server server(options);
    Client c(server.port());
    for (int i = 1; i <= 5; ++i)
        c.post("/v1/chat/completions", chat_request("m" + std::to_string(i)), {{"x-api-key", "secret-" + std::to_string(i)}});
    const auto recorded = server.requests();
    REQUIRE(recorded.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(recorded[i].body.at("messages").at(0).at("content").as_string() == "m" + std::to_string(i + 3));
        CHECK(recorded[i].header("x-api-key") == std::string("[redacted]"));
        CHECK(recorded[i].header("content-type") == std::string("application/json"));
    }
    server.reset();
    CHECK(server.requests().empty());
    c.post("/v1/chat/completions", chat_request("after reset"));
    REQUIRE(server.requests().size() == 1);
    CHECK(server.requests()[0].body.at("messages").at(0).at("content") == "after reset");
}

TEST_CASE("many concurrent keep-alive connections are all answered", "[mock]") {
    // Both ends of 500 connections live in this process: make sure the descriptor limit allows it.
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max && limit.rlim_cur < 4096) {
        limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4096);
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    ServerOptions options;
    options.threads = 2;
    options.max_recorded_requests = 16;
    Server server(options);
    constexpr int clients_per_thread = 125;
    constexpr int threads = 4;
    std::atomic<int> ok{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            auto ioc = std::make_shared<asio::io_context>(1);
            std::vector<std::unique_ptr<Client>> clients;
            for (int i = 0; i < clients_per_thread; ++i) clients.push_back(std::make_unique<Client>(ioc, server.port()));
            for (int round = 0; round < 2; ++round)
                for (auto& c : clients)
                    if (c->post("/v1/chat/completions", chat_request("hi")).status == 200) ++ok;
        });
    }
    for (auto& w : workers) w.join();
    CHECK(ok == threads * clients_per_thread * 2);
    const auto stats = server.stats();
    CHECK(stats.connections_accepted == threads * clients_per_thread);
    CHECK(stats.requests == static_cast<std::uint64_t>(threads * clients_per_thread * 2));
    CHECK(server.requests().size() == 16);
}

TEST_CASE("response_delay holds many requests at once without blocking threads", "[mock]") {
    ServerOptions options;
    options.response_delay = 300ms;
    Server server(options);  // one thread: a sleeping implementation would take 300 ms × N
    constexpr int n = 100;
    std::atomic<int> ok{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < n; ++t)
        workers.emplace_back([&] {
            Client c(server.port());
            if (c.post("/v1/chat/completions", chat_request("x")).status == 200) ++ok;
        });
    for (auto& w : workers) w.join();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(ok == n);
    CHECK(elapsed >= 300ms);
    CHECK(elapsed < 10s);
}

TEST_CASE("TLS mode serves HTTPS with a certificate signed by the test CA", "[mock]") {
    ServerOptions options;
    options.tls = true;
    Server server(options);
    CHECK(server.base_url() == "https://127.0.0.1:" + std::to_string(server.port()));
    const std::string ca = server.ca_cert_pem();
    REQUIRE(ca.find("BEGIN CERTIFICATE") != std::string::npos);

    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(ca));
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
    REQUIRE(SSL_set_tlsext_host_name(stream.native_handle(), "localhost"));
    beast::get_lowest_layer(stream).expires_after(10s);

    http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
    req.set(http::field::host, "localhost");
    req.body() = json::serialize(chat_request("over tls"));
    req.prepare_payload();
    http::response<http::string_body> res;
    beast::flat_buffer buffer;
    beast::error_code result = asio::error::would_block;
    beast::get_lowest_layer(stream).async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()), [&](beast::error_code ec) {
            if (ec) return void(result = ec);
            stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec) {
                if (ec) return void(result = ec);
                http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
                    if (ec) return void(result = ec);
                    http::async_read(stream, buffer, res, [&](beast::error_code ec, std::size_t) { result = ec; });
                });
            });
        });
    ioc.run_for(10s);
    REQUIRE(!result);
    CHECK(res.result_int() == 200);
    CHECK(json::parse(res.body()).at("choices").at(0).at("message").at("content") == "Mock reply: over tls");

    // A client that does not trust the test CA fails the handshake.
    asio::io_context ioc2;
    asio::ssl::context untrusting(asio::ssl::context::tls_client);
    untrusting.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream2(ioc2, untrusting);
    beast::get_lowest_layer(stream2).expires_after(10s);
    beast::error_code handshake = asio::error::would_block;
    beast::get_lowest_layer(stream2).async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()), [&](beast::error_code ec) {
            if (ec) return void(handshake = ec);
            stream2.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec) { handshake = ec; });
        });
    ioc2.run_for(10s);
    CHECK(handshake);
    CHECK(handshake != asio::error::would_block);
}

TEST_CASE("destroying the server with requests in flight closes their connections promptly", "[mock]") {
    std::atomic<bool> failed{false};
    std::atomic<bool> answered{false};
    const auto start = std::chrono::steady_clock::now();
    std::thread client;
    {
        ServerOptions options;
        options.response_delay = 30s;
        Server server(options);
        client = std::thread([&, port = server.port()] {
            Client c(port);
            auto r = c.post("/v1/chat/completions", chat_request("x"));
            if (r.error) failed = true;
            else answered = true;
        });
        // Wait until the request is being held by the server, then destroy it.
        for (int i = 0; i < 500 && server.stats().requests == 0; ++i) std::this_thread::sleep_for(10ms);
        REQUIRE(server.stats().requests == 1);
        CHECK(server.stats().open_connections == 1);
    }
    client.join();
    CHECK(failed);
    CHECK(!answered);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
}
