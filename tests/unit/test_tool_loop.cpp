#include "engine/tool_loop.hpp"

#include <alloy/schema.hpp>

#include <boost/describe.hpp>

#include <catch2/catch.hpp>

using alloy::ModelReply;
using alloy::detail::LoopRules;
using alloy::detail::LoopState;
using alloy::detail::OutputMode;
using alloy::detail::Step;

namespace {

struct Point {
    int x;
    int y;
};
BOOST_DESCRIBE_STRUCT(Point, (), (x, y))

ModelReply text(std::string t) {
    ModelReply r;
    r.text = std::move(t);
    return r;
}

ModelReply tools(std::string t = {}) {
    ModelReply r;
    r.text = std::move(t);
    r.tool_calls.push_back(alloy::ToolCall{"c1", "add", "{}", {}});
    return r;
}

}  // namespace

TEST_CASE("tool replies count turns and run tools until the limit", "[engine][loop]") {
    LoopState state;
    LoopRules rules{2, true, OutputMode::text, nullptr};
    CHECK(decide_step(tools("thinking. "), state, rules) == Step::run_tools);
    CHECK(decide_step(tools("more. "), state, rules) == Step::run_tools);
    try {
        decide_step(tools("again"), state, rules);
        FAIL("no limit");
    } catch (const alloy::ToolLoopLimitExceeded& e) {
        CHECK(e.max_turns() == 2);
        CHECK(e.turns_taken() == 3);
        CHECK(e.partial_text() == "thinking. more. again");
        CHECK(e.kind() == alloy::ErrorKind::tool_loop_limit);
    }
}

TEST_CASE("max_tool_turns 0 refuses the first tool turn", "[engine][loop]") {
    LoopState state;
    LoopRules rules{0, true, OutputMode::text, nullptr};
    CHECK_THROWS_AS(decide_step(tools(), state, rules), alloy::ToolLoopLimitExceeded);
}

TEST_CASE("text mode: empty answer is output_missing", "[engine][loop]") {
    LoopState state;
    LoopRules rules{10, true, OutputMode::text, nullptr};
    CHECK(decide_step(text("hi"), state, rules) == Step::finish);
    try {
        decide_step(text(""), state, rules);
        FAIL("no error");
    } catch (const alloy::CommandError& e) {
        CHECK(e.kind() == alloy::ErrorKind::output_missing);
    }
}

TEST_CASE("void mode finishes on any answer", "[engine][loop]") {
    LoopState state;
    LoopRules rules{10, true, OutputMode::none, nullptr};
    CHECK(decide_step(text(""), state, rules) == Step::finish);
}

TEST_CASE("typed mode: incomplete output asks once to finalize", "[engine][loop]") {
    const auto spec = alloy::output_spec<Point>();
    LoopRules rules{10, true, OutputMode::typed, &spec};
    {
        LoopState state;
        CHECK(decide_step(text(R"({"x":1,"y":2})"), state, rules) == Step::finish);
    }
    {
        LoopState state;
        CHECK(decide_step(text(R"({"x":1})"), state, rules) == Step::finalize);
        CHECK(state.finalizing);
        // The follow-up answered badly again: finish, and let the parse report it.
        CHECK(decide_step(text(R"({"x":1})"), state, rules) == Step::finish);
    }
    {
        LoopState state;
        CHECK(decide_step(text("no json here"), state, rules) == Step::finalize);
    }
    {
        LoopState state;
        CHECK(decide_step(text(""), state, rules) == Step::finalize);
        CHECK_THROWS_AS(decide_step(text(""), state, rules), alloy::CommandError);
    }
}

TEST_CASE("typed mode with finalize off goes straight to the parse", "[engine][loop]") {
    const auto spec = alloy::output_spec<Point>();
    LoopRules rules{10, false, OutputMode::typed, &spec};
    LoopState state;
    CHECK(decide_step(text(R"({"x":1})"), state, rules) == Step::finish);
}

TEST_CASE("tool calls during the finalize follow-up are ignored", "[engine][loop]") {
    const auto spec = alloy::output_spec<Point>();
    LoopRules rules{0, true, OutputMode::typed, &spec};
    LoopState state;
    state.finalizing = true;
    auto r = tools(R"({"x":1,"y":2})");
    CHECK(decide_step(r, state, rules) == Step::finish);
}
