// What the engine reports: event sequences with correlation ids, isolation of failing observers, usage
// per run and per runtime, content capture.
#include <alloy/alloy.hpp>
#include <alloy/testing.hpp>

#include "support/async_test.hpp"

#include <boost/describe.hpp>

#include <catch2/catch.hpp>

#include <mutex>
#include <set>

using namespace std::chrono_literals;
using alloy::Event;
using alloy::EventType;
using alloy::testing::call;
using alloy::testing::ScriptedProvider;

namespace {

struct AddArgs {
    int a;
    int b;
};
BOOST_DESCRIBE_STRUCT(AddArgs, (), (a, b))

const auto add = alloy::tool("add", "Add", [](AddArgs x) { return x.a + x.b; })
                     .require([](const AddArgs& x) { return x.b >= 0; }, "b must be non-negative");

struct Recorder : alloy::Observer {
    std::mutex m;
    std::vector<Event> events;
    void on_event(const Event& e) override {
        std::lock_guard l(m);
        events.push_back(e);
    }
    std::vector<EventType> types() {
        std::lock_guard l(m);
        std::vector<EventType> out;
        for (auto& e : events) out.push_back(e.type);
        return out;
    }
    std::vector<Event> of(EventType t) {
        std::lock_guard l(m);
        std::vector<Event> out;
        for (auto& e : events)
            if (e.type == t) out.push_back(e);
        return out;
    }
};

struct Fixture {
    std::shared_ptr<ScriptedProvider> provider = std::make_shared<ScriptedProvider>();
    std::shared_ptr<Recorder> recorder = std::make_shared<Recorder>();
    alloy::Runtime rt{alloy::Settings{.backoff_initial = 1ms, .backoff_max = 1ms}};
    Fixture() {
        rt.set_provider(provider);
        rt.add_observer(recorder);
    }
};

std::string echo(std::string_view s) { return std::string(s); }

alloy::Usage usage(int in, int out) {
    alloy::Usage u;
    u.input_tokens = in;
    u.output_tokens = out;
    return u;
}

}  // namespace

TEST_CASE("a run with a tool turn and a retry reports every step with joined ids", "[events]") {
    Fixture f;
    alloy::ModelReply tool_turn;
    tool_turn.tool_calls = {call("add", {{"a", 1}, {"b", -1}}, "c1"), call("add", {{"a", 2}, {"b", 3}}, "c2")};
    tool_turn.usage = usage(10, 2);
    tool_turn.finish = alloy::FinishReason::tool_calls;
    f.provider->fail_status(503).reply(tool_turn).reply_text("done", usage(20, 5));
    const auto c = alloy::command("sum", echo, {.model = "gpt-5-mini", .tools = std::vector<alloy::Tool>{add}, .retry = 2});
    auto d = alloy::test::run(c.in(f.rt).detailed("go"));

    const std::vector<EventType> expected = {
        EventType::command_start, EventType::attempt_start,   EventType::request_start, EventType::request_end,
        EventType::attempt_end,   EventType::retry_scheduled, EventType::attempt_start, EventType::request_start,
        EventType::request_end,   EventType::tool_start,      EventType::tool_start,    EventType::tool_end,
        EventType::tool_end,      EventType::request_start,   EventType::request_end,   EventType::attempt_end,
        EventType::command_end};
    auto types = f.recorder->types();
    // The two tools run concurrently: their start/end may interleave differently. Compare as multisets
    // within the tool block and exactly elsewhere.
    REQUIRE(types.size() == expected.size());
    CHECK(std::vector<EventType>(types.begin(), types.begin() + 9) ==
          std::vector<EventType>(expected.begin(), expected.begin() + 9));
    CHECK(std::multiset<EventType>(types.begin() + 9, types.begin() + 13) ==
          std::multiset<EventType>(expected.begin() + 9, expected.begin() + 13));
    CHECK(std::vector<EventType>(types.begin() + 13, types.end()) ==
          std::vector<EventType>(expected.begin() + 13, expected.end()));

    std::set<std::string> run_ids, trace_ids;
    for (const auto& e : f.recorder->events) {
        run_ids.insert(e.run_id);
        trace_ids.insert(e.trace_id);
        CHECK(e.command == "sum");
        CHECK(e.model == "gpt-5-mini");
        CHECK(e.provider == "scripted");
    }
    CHECK(run_ids.size() == 1);
    CHECK(*run_ids.begin() == d.info.run_id);
    CHECK(trace_ids.size() == 1);
    CHECK(trace_ids.begin()->size() == 32);

    const auto command_start = f.recorder->of(EventType::command_start).at(0);
    const auto attempts = f.recorder->of(EventType::attempt_start);
    REQUIRE(attempts.size() == 2);
    CHECK(attempts[0].parent_span_id == command_start.span_id);
    CHECK(attempts[1].attempt == 2);
    const auto requests = f.recorder->of(EventType::request_end);
    CHECK(requests[0].outcome == "error");
    CHECK(requests[0].http_status == 503);
    CHECK(requests[0].parent_span_id == attempts[0].span_id);
    CHECK(requests[1].outcome == "ok");
    CHECK(requests[1].usage.input_tokens == 10);
    CHECK(requests[1].finish_reason == "tool_calls");
    CHECK(requests[2].tool_turn == 1);

    const auto retry = f.recorder->of(EventType::retry_scheduled).at(0);
    CHECK(retry.retry_level == "command");
    CHECK(retry.attempt == 1);
    CHECK_THAT(retry.reason, Catch::Contains("503"));

    auto tool_ends = f.recorder->of(EventType::tool_end);
    REQUIRE(tool_ends.size() == 2);
    std::sort(tool_ends.begin(), tool_ends.end(), [](auto& a, auto& b) { return a.tool_call_id < b.tool_call_id; });
    CHECK(tool_ends[0].outcome == "error");
    CHECK(tool_ends[0].contract == "b must be non-negative");
    CHECK(tool_ends[0].parent_span_id == attempts[1].span_id);
    CHECK(tool_ends[1].outcome == "ok");
    CHECK(tool_ends[1].tool == "add");

    const auto end = f.recorder->of(EventType::command_end).at(0);
    CHECK(end.outcome == "ok");
    CHECK(end.attempt == 2);
    CHECK(end.usage.input_tokens == 30);
    CHECK(end.usage.output_tokens == 7);
    CHECK(end.duration > 0ns);
    CHECK_FALSE(end.content);  // content capture is off by default

    CHECK(d.info.usage.input_tokens == 30);
    CHECK(d.info.requests == 3);
    CHECK(d.info.tool_turns == 1);
    CHECK(f.rt.total_usage().input_tokens == 30);
}

TEST_CASE("failures report the error kind on command_end", "[events]") {
    Fixture f;
    f.provider->fail_status(400);
    const auto c = alloy::command("c", echo);
    CHECK_THROWS_AS(alloy::test::run(c.in(f.rt)("x")), alloy::CommandError);
    const auto end = f.recorder->of(EventType::command_end).at(0);
    CHECK(end.outcome == "error");
    REQUIRE(end.error_kind);
    CHECK(*end.error_kind == alloy::ErrorKind::provider_status);
    CHECK(end.http_status == 400);
}

TEST_CASE("finalize follow-up is reported", "[events]") {
    Fixture f;
    f.provider->reply_text("not json").reply_text(R"({"value": 4})");
    const auto c = alloy::command<int>("n", echo);
    CHECK(alloy::test::run(c.in(f.rt)("x")) == 4);
    CHECK(f.recorder->of(EventType::finalize).size() == 1);
}

TEST_CASE("a throwing observer is isolated and counted", "[events]") {
    struct Throwing : alloy::Observer {
        void on_event(const Event&) override { throw std::runtime_error("observer bug"); }
    };
    Fixture f;
    f.rt.add_observer(std::make_shared<Throwing>());
    f.provider->reply_text("fine");
    const auto c = alloy::command("c", echo);
    CHECK(alloy::test::run(c.in(f.rt)("x")) == "fine");
    CHECK(f.rt.observer_failures() >= 4);
    CHECK(f.recorder->of(EventType::command_end).size() == 1);  // the other observer still got everything
}

TEST_CASE("content capture puts prompt and answer into events", "[events]") {
    Fixture f;
    f.rt.capture_content(true);
    f.provider->reply_text("the answer");
    alloy::test::run(alloy::command("c", echo).in(f.rt)("the question"));
    CHECK(*f.recorder->of(EventType::command_start).at(0).content == "the question");
    CHECK(*f.recorder->of(EventType::command_end).at(0).content == "the answer");
}

TEST_CASE("streams report time to first chunk and the end", "[events][stream]") {
    Fixture f;
    f.provider->reply_text("hello streaming world", usage(3, 4));
    auto s = f.rt.ask_stream("x");
    std::string all;
    while (auto chunk = s.next_sync()) all += *chunk;
    CHECK(all == "hello streaming world");
    const auto first = f.recorder->of(EventType::stream_first_chunk);
    REQUIRE(first.size() == 1);
    const auto end = f.recorder->of(EventType::stream_end).at(0);
    CHECK(end.chunks > 1);
    CHECK(end.outcome == "ok");
    CHECK(end.usage.output_tokens == 4);
    CHECK(f.recorder->of(EventType::command_end).size() == 1);
}

TEST_CASE("traceparent is sent to providers only when enabled", "[events]") {
    Fixture f;
    f.provider->reply_text("a").reply_text("b");
    const auto c = alloy::command("c", echo);
    alloy::test::run(c.in(f.rt)("x"));
    alloy::test::run(c.in(f.rt).with({.propagate_traceparent = true})("y"));
    const auto reqs = f.provider->requests();
    CHECK(reqs[0].headers.empty());
    REQUIRE(reqs[1].headers.size() == 1);
    CHECK(reqs[1].headers[0].first == "traceparent");
    const auto& tp = reqs[1].headers[0].second;
    CHECK(tp.size() == 55);
    CHECK(tp.substr(0, 3) == "00-");
    const auto ends = f.recorder->of(EventType::request_end);
    CHECK(tp.substr(3, 32) == ends.back().trace_id);
    CHECK(tp.substr(36, 16) == ends.back().span_id);
}
