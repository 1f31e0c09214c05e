// Recorded-style SSE bodies of each provider, fed through the real SseDecoder whole, one byte at a
// time, and in odd-sized pieces: the reply must not depend on how the bytes were split.
#include "providers/anthropic.hpp"
#include "providers/gemini.hpp"
#include "providers/openai_chat.hpp"
#include "providers/openai_responses.hpp"
#include "support/provider_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace alloy;
using namespace alloy::providers;
using alloy::test::run_stream;

namespace {

const std::size_t pieces[] = {0, 1, 5};

}  // namespace

TEST_CASE("stream bodies: OpenAI chat with comments, CRLF, tool fragments and [DONE]", "[providers]") {
    const std::string body =
        ": OPENROUTER PROCESSING\r\n\r\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Sum: \"},\"finish_reason\":null}]}\r\n\r\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"add\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]},\"finish_reason\":null}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"2,\\\"b\\\":3}\"}}]},\"finish_reason\":null}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":44,\"completion_tokens\":16,\"total_tokens\":60}}\n\n"
        "data: [DONE]\n\n";
    for (auto piece : pieces) {
        INFO("piece " << piece);
        auto adapter = make_openai_chat_adapter({"m", "http://127.0.0.1:1/v1", ""});
        auto state = adapter->start_stream({});
        const auto run = run_stream(*state, adapter->framing(), body, piece);
        CHECK(run.deltas == std::vector<std::string>{"Sum: "});
        REQUIRE(run.reply.tool_calls.size() == 1);
        CHECK(run.reply.tool_calls[0].arguments == R"({"a":2,"b":3})");
        CHECK(run.reply.finish == FinishReason::tool_calls);
        CHECK(run.reply.usage.total() == 60);
    }
}

TEST_CASE("stream bodies: OpenAI Responses named events", "[providers]") {
    const std::string body =
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"status\":\"in_progress\",\"model\":\"gpt-5-mini\"}}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"delta\":\"Bonjour\"}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"delta\":\" \\u00e0 tous\"}\n\n"
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}}\n\n";
    for (auto piece : pieces) {
        INFO("piece " << piece);
        auto adapter = make_openai_responses_adapter({"gpt-5-mini", "https://api.openai.com/v1", "k"});
        auto state = adapter->start_stream({});
        const auto run = run_stream(*state, adapter->framing(), body, piece);
        CHECK(run.reply.text == "Bonjour \xC3\xA0 tous");
        CHECK(run.deltas.size() == 2);
        CHECK(run.reply.usage.output_tokens == 4);
    }
}

TEST_CASE("stream bodies: Anthropic tool use with ping", "[providers]") {
    const std::string body =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n"
        "event: ping\ndata: {\"type\":\"ping\"}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"add\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": 2\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\", \\\"b\\\": 3}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":20}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    for (auto piece : pieces) {
        INFO("piece " << piece);
        auto adapter = make_anthropic_adapter({"claude-sonnet-4-5", "https://api.anthropic.com", "k"});
        auto state = adapter->start_stream({});
        const auto run = run_stream(*state, adapter->framing(), body, piece);
        REQUIRE(run.reply.tool_calls.size() == 1);
        CHECK(run.reply.tool_calls[0].arguments == R"({"a": 2, "b": 3})");
        CHECK(run.reply.finish == FinishReason::tool_calls);
        CHECK(run.reply.usage.output_tokens == 20);
    }
}

TEST_CASE("stream bodies: Gemini ends on close without a blank line after the last event", "[providers]") {
    const std::string body =
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]}}]}\r\n\r\n"
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"lo\"}]},\"finishReason\":\"STOP\"}],"
        "\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":2}}";
    for (auto piece : pieces) {
        INFO("piece " << piece);
        auto adapter = make_gemini_adapter({"gemini-2.5-flash", "https://generativelanguage.googleapis.com", "k"});
        auto state = adapter->start_stream({});
        const auto run = run_stream(*state, adapter->framing(), body, piece);
        CHECK(run.deltas == std::vector<std::string>{"Hel", "lo"});
        CHECK(run.reply.text == "Hello");
        CHECK(run.reply.finish == FinishReason::stop);
        CHECK(run.reply.usage.output_tokens == 2);
    }
}
