// Shared inputs and helpers for the provider adapter tests.
#pragma once

#include "http/sse.hpp"
#include "providers/adapter.hpp"

#include <alloy/provider.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alloy::test {

/// A request exercising every mapped field: system, a tool turn in history (two calls, one failed
/// result), tools, an output schema, temperature, max tokens and an extra field.
inline ModelRequest full_request(std::string model) {
    ModelRequest r;
    r.model = std::move(model);
    r.system = "Be precise.";
    r.messages.push_back(Message{Message::Role::user, "Add 2 and 3, then check the weather.", {}, {}});
    Message assistant{Message::Role::assistant, "Working on it.", {}, {}};
    assistant.tool_calls.push_back(ToolCall{"call_1", "add", R"({"a":2,"b":3})", {}});
    assistant.tool_calls.push_back(ToolCall{"call_2", "weather", R"({"city":"Paris"})", {}});
    r.messages.push_back(std::move(assistant));
    Message results{Message::Role::tool, "", {}, {}};
    results.tool_results.push_back(ToolResult{"call_1", "add", "5", false});
    results.tool_results.push_back(ToolResult{"call_2", "weather", "ToolError: service down", true});
    r.messages.push_back(std::move(results));
    r.tools.push_back(ToolSpec{"add", "Add two integers",
                               std::make_shared<const boost::json::object>(
                                   boost::json::parse(R"({"type":"object","properties":{"a":{"type":"integer"},
                                 "b":{"type":"integer"}},"required":["a","b"]})").as_object())});
    r.output = std::make_shared<const OutputSpec>(
        OutputSpec{"Answer",
                   boost::json::parse(R"({"type":"object","properties":{"sum":{"type":"integer"}},
                     "required":["sum"],"additionalProperties":false})").as_object(),
                   false, {}});
    r.temperature = 0.25;
    r.max_tokens = 300;
    r.extra["seed"] = 7;
    return r;
}

/// The request body parsed as JSON.
inline boost::json::value body_of(const http::Request& request) { return boost::json::parse(request.body); }

/// Headers built from a list of pairs.
inline http::Headers headers_of(std::vector<std::pair<std::string, std::string>> items) {
    http::Headers h;
    for (auto& [name, value] : items) h.set(name, value);
    return h;
}

/// Feeds (event name, data) pairs to a stream state; returns the text deltas it produced.
inline std::vector<std::string> feed_events(providers::StreamState& state,
                                            const std::vector<std::pair<std::string, std::string>>& events) {
    std::vector<std::string> deltas;
    for (const auto& [event, data] : events) state.on_event(event, data, deltas);
    return deltas;
}

/// Concatenation of text deltas.
inline std::string joined(const std::vector<std::string>& parts) {
    std::string all;
    for (const auto& p : parts) all += p;
    return all;
}

/// Result of driving a stream state with a recorded body.
struct StreamRun {
    std::vector<std::string> deltas;
    ModelReply reply;
};

/// Feeds a recorded body through the real decoder in pieces of `piece` bytes (0: all at once), then
/// finishes the state, as HttpProvider does.
inline StreamRun run_stream(providers::StreamState& state, providers::Framing framing, std::string_view body,
                            std::size_t piece = 0) {
    StreamRun run;
    const std::size_t step = piece == 0 ? body.size() : piece;
    if (framing == providers::Framing::sse) {
        http::SseDecoder decoder;
        for (std::size_t i = 0; i < body.size(); i += step) {
            for (const auto& ev : decoder.feed(body.substr(i, step))) state.on_event(ev.event, ev.data, run.deltas);
        }
        if (auto ev = decoder.finish()) state.on_event(ev->event, ev->data, run.deltas);
    } else {
        http::NdjsonDecoder decoder;
        for (std::size_t i = 0; i < body.size(); i += step) {
            for (const auto& line : decoder.feed(body.substr(i, step))) state.on_event("", line, run.deltas);
        }
        if (auto line = decoder.finish()) state.on_event("", *line, run.deltas);
    }
    run.reply = state.finish();
    return run;
}

}  // namespace alloy::test
