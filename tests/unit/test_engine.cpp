// The command runtime end to end on the scripted in-process provider: output modes, tools in the loop,
// turn limits, concurrency, finalize, retries, timeouts and cancellation.
#include <alloy/alloy.hpp>
#include <alloy/testing.hpp>

#include "support/async_test.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe.hpp>
#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using alloy::testing::ScriptedProvider;
using alloy::testing::call;
namespace asio = boost::asio;

namespace {

struct Invoice {
    std::string vendor;
    double total;
    std::vector<std::string> items;
};
BOOST_DESCRIBE_STRUCT(Invoice, (), (vendor, total, items))

struct AddArgs {
    int a;
    int b;
};
BOOST_DESCRIBE_STRUCT(AddArgs, (), (a, b))

struct WaitArgs {
    int ms;
};
BOOST_DESCRIBE_STRUCT(WaitArgs, (), (ms))

const auto add = alloy::tool("add", "Add two integers", [](AddArgs x) { return x.a + x.b; })
                     .require([](const AddArgs& x) { return x.b >= 0; }, "b must be non-negative");

/// A runtime whose every command goes to a fresh scripted provider, with fast retries.
struct Fixture {
    std::shared_ptr<ScriptedProvider> provider = std::make_shared<ScriptedProvider>();
    alloy::Runtime rt{alloy::Settings{.backoff_initial = 1ms, .backoff_max = 2ms}};
    Fixture() { rt.set_provider(provider); }
};

std::string echo(std::string_view s) { return std::string(s); }

const alloy::Message& last_message(const alloy::ModelRequest& r) { return r.messages.back(); }

}  // namespace

TEST_CASE("raw text command: prompt sent, no schema, text returned", "[engine]") {
    Fixture f;
    f.provider->reply_text("hello there");
    const auto greet = alloy::command("greet", [](std::string_view name) { return "Say hi to " + std::string(name); },
                                      {.system = "Be warm."});
    std::string out = alloy::test::run(greet.in(f.rt)("Ada"));
    CHECK(out == "hello there");
    auto reqs = f.provider->requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].messages.size() == 1);
    CHECK(reqs[0].messages[0].text == "Say hi to Ada");
    CHECK(*reqs[0].system == "Be warm.");
    CHECK_FALSE(reqs[0].output);
    CHECK(reqs[0].model == "gpt-5-mini");
}

TEST_CASE("raw text command: empty reply is a CommandError", "[engine]") {
    Fixture f;
    f.provider->reply_text("");
    const auto c = alloy::command("c", echo);
    try {
        alloy::test::run(c.in(f.rt)("x"));
        FAIL("no error");
    } catch (const alloy::CommandError& e) {
        CHECK(e.kind() == alloy::ErrorKind::output_missing);
    }
}

TEST_CASE("void command calls the model and returns nothing", "[engine]") {
    Fixture f;
    f.provider->reply_text("");
    const auto notify = alloy::command<void>("notify", echo);
    alloy::test::run(notify.in(f.rt)("ping"));
    CHECK(f.provider->request_count() == 1);
}

TEST_CASE("typed command: strict schema sent, JSON parsed into the struct", "[engine]") {
    Fixture f;
    f.provider->reply_text(R"(```json
{"vendor":"ACME","total":"12.5","items":["widget","gadget"],"note":"ignored"}
```)");
    const auto extract = alloy::command<Invoice>("extract_invoice", echo);
    Invoice inv = alloy::test::run(extract.in(f.rt)("ACME, 2 widgets"));
    CHECK(inv.vendor == "ACME");
    CHECK(inv.total == 12.5);
    CHECK(inv.items == std::vector<std::string>{"widget", "gadget"});
    auto req = f.provider->requests().at(0);
    REQUIRE(req.output);
    CHECK(req.output->name == "Invoice");
    CHECK(req.output->schema.at("additionalProperties") == false);
    CHECK_FALSE(req.output->wrapped);
}

TEST_CASE("typed command with a primitive output is wrapped and unwrapped", "[engine]") {
    Fixture f;
    f.provider->reply_text(R"({"value": 42})");
    const auto count = alloy::command<int>("count", echo);
    CHECK(alloy::test::run(count.in(f.rt)("how many")) == 42);
    auto req = f.provider->requests().at(0);
    CHECK(req.output->wrapped);
    CHECK(req.output->schema.at("required").as_array() == boost::json::array{"value"});
}

TEST_CASE("typed command: a wrong type is a CommandError naming the type with a snippet", "[engine]") {
    Fixture f;
    f.provider->reply_text(R"({"vendor":"ACME","total":"lots","items":[]})");
    const auto extract = alloy::command<Invoice>("extract_invoice", echo, {.auto_finalize_missing_output = false});
    try {
        alloy::test::run(extract.in(f.rt)("x"));
        FAIL("no error");
    } catch (const alloy::CommandError& e) {
        CHECK(e.kind() == alloy::ErrorKind::output_parse);
        CHECK_THAT(e.what(), Catch::Contains("Invoice"));
        CHECK_THAT(e.what(), Catch::Contains("$.total"));
        CHECK_THAT(e.what(), Catch::Contains("lots"));
    }
}

TEST_CASE("finalize: missing required keys trigger one follow-up without tools", "[engine][finalize]") {
    Fixture f;
    f.provider->reply_text(R"({"vendor":"ACME"})").reply_text(R"({"vendor":"ACME","total":3,"items":[]})");
    const auto extract = alloy::command<Invoice>("extract_invoice", echo, {.tools = std::vector<alloy::Tool>{add}});
    Invoice inv = alloy::test::run(extract.in(f.rt)("x"));
    CHECK(inv.total == 3);
    auto reqs = f.provider->requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].tool_choice == alloy::ToolChoice::automatic);
    CHECK(reqs[1].tool_choice == alloy::ToolChoice::none);
    CHECK(reqs[1].messages.size() == 3);
    CHECK(reqs[1].messages[1].role == alloy::Message::Role::assistant);
    CHECK_THAT(last_message(reqs[1]).text, Catch::Contains("JSON"));
}

TEST_CASE("finalize happens at most once, and not at all when switched off", "[engine][finalize]") {
    SECTION("on: second bad answer fails") {
        Fixture f;
        f.provider->reply_text("no json").reply_text("still none");
        const auto extract = alloy::command<Invoice>("e", echo);
        CHECK_THROWS_AS(alloy::test::run(extract.in(f.rt)("x")), alloy::CommandError);
        CHECK(f.provider->request_count() == 2);
    }
    SECTION("off") {
        Fixture f;
        f.provider->reply_text("no json");
        const auto extract = alloy::command<Invoice>("e", echo, {.auto_finalize_missing_output = false});
        CHECK_THROWS_AS(alloy::test::run(extract.in(f.rt)("x")), alloy::CommandError);
        CHECK(f.provider->request_count() == 1);
    }
}

TEST_CASE("tool loop: calls run, results go back in one follow-up in call order", "[engine][tools]") {
    Fixture f;
    f.provider->reply_tool_calls({call("add", {{"a", 2}, {"b", 3}}, "c1"), call("add", {{"a", 10}, {"b", 20}}, "c2")},
                                 "Let me add.")
        .reply_text("5 and 30");
    const auto sum = alloy::command("sum", echo, {.tools = std::vector<alloy::Tool>{add}});
    CHECK(alloy::test::run(sum.in(f.rt)("add things")) == "5 and 30");
    auto reqs = f.provider->requests();
    REQUIRE(reqs.size() == 2);
    REQUIRE(reqs[0].tools.size() == 1);
    CHECK(reqs[0].tools[0].name == "add");
    CHECK(reqs[0].tools[0].parameters->at("type") == "object");
    const auto& msgs = reqs[1].messages;
    REQUIRE(msgs.size() == 3);
    CHECK(msgs[1].role == alloy::Message::Role::assistant);
    CHECK(msgs[1].text == "Let me add.");
    CHECK(msgs[1].tool_calls.size() == 2);
    CHECK(msgs[2].role == alloy::Message::Role::tool);
    REQUIRE(msgs[2].tool_results.size() == 2);
    CHECK(msgs[2].tool_results[0].call_id == "c1");
    CHECK(msgs[2].tool_results[0].content == "5");
    CHECK(msgs[2].tool_results[1].call_id == "c2");
    CHECK(msgs[2].tool_results[1].content == "30");
    CHECK_FALSE(msgs[2].tool_results[0].is_error);
}

TEST_CASE("tool loop: contract failures, exceptions, unknown tools and bad arguments go back to the model",
          "[engine][tools]") {
    Fixture f;
    const auto explode = alloy::tool("explode", "Throws", [](AddArgs) -> int { throw std::out_of_range("too far"); });
    f.provider
        ->reply_tool_calls({call("add", {{"a", 1}, {"b", -1}}, "c1"), call("explode", {{"a", 1}, {"b", 1}}, "c2"),
                            call("nope", {}, "c3"), alloy::ToolCall{"c4", "add", "{not json", {}},
                            call("add", {{"a", "x"}, {"b", 1}}, "c5"), alloy::ToolCall{"c6", "add", "[1,2]", {}}})
        .reply_text("done");
    const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{add, explode}});
    CHECK(alloy::test::run(c.in(f.rt)("go")) == "done");
    const auto results = f.provider->requests().at(1).messages.at(2).tool_results;
    REQUIRE(results.size() == 6);
    for (const auto& r : results) CHECK(r.is_error);
    CHECK_THAT(results[0].content, Catch::Contains("b must be non-negative"));
    CHECK(results[1].content == "std::out_of_range: too far");
    CHECK_THAT(results[2].content, Catch::Contains("Unknown tool 'nope'") && Catch::Contains("add, explode"));
    CHECK_THAT(results[3].content, Catch::Contains("Invalid arguments for tool 'add'") && Catch::Contains("not valid JSON"));
    CHECK_THAT(results[4].content, Catch::Contains("Invalid arguments") && Catch::Contains("$.a"));
    CHECK_THAT(results[5].content, Catch::Contains("expected a JSON object"));
}

TEST_CASE("tool loop limit: 0, 1 and N turns, thrown before the batch runs, with partial text",
          "[engine][tools][limit]") {
    for (int limit : {0, 1, 3}) {
        Fixture f;
        std::atomic<int> runs{0};
        const auto counted = alloy::tool("counted", "Counts", [&runs](AddArgs) { return ++runs; });
        for (int i = 0; i <= limit; ++i)
            f.provider->reply_tool_calls({call("counted", {{"a", 1}, {"b", 1}})}, "turn" + std::to_string(i) + ";");
        const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{counted}, .max_tool_turns = limit});
        INFO("limit " << limit);
        try {
            alloy::test::run(c.in(f.rt)("go"));
            FAIL("no limit error");
        } catch (const alloy::ToolLoopLimitExceeded& e) {
            CHECK(e.max_turns() == limit);
            CHECK(e.turns_taken() == limit + 1);
            std::string expected;
            for (int i = 0; i <= limit; ++i) expected += "turn" + std::to_string(i) + ";";
            CHECK(e.partial_text() == expected);
        }
        CHECK(runs == limit);  // the over-limit batch never ran
    }
}

TEST_CASE("tool loop limit passes through command retries unchanged", "[engine][tools][limit]") {
    Fixture f;
    f.provider->reply_tool_calls({call("add", {{"a", 1}, {"b", 1}})}).reply_tool_calls({call("add", {{"a", 1}, {"b", 1}})});
    const auto c = alloy::command("c", echo,
                                  {.tools = std::vector<alloy::Tool>{add}, .retry = 2, .max_tool_turns = 0});
    try {
        alloy::test::run(c.in(f.rt)("go"));
        FAIL("no error");
    } catch (const alloy::ToolLoopLimitExceeded& e) {
        CHECK(e.attempts() == 2);
    }
}

TEST_CASE("parallel tools: never more than parallel_tools_max at once, results in call order",
          "[engine][tools][concurrency]") {
    Fixture f;
    std::atomic<int> running{0};
    std::atomic<int> peak{0};
    const auto wait = alloy::tool("wait", "Waits", [&running, &peak](WaitArgs w) -> asio::awaitable<int> {
        int now = ++running;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(w.ms));
        co_await t.async_wait(asio::use_awaitable);
        --running;
        co_return w.ms;
    });
    std::vector<alloy::ToolCall> calls;
    const std::vector<int> delays = {30, 5, 20, 1, 15, 10, 25};
    for (std::size_t i = 0; i < delays.size(); ++i)
        calls.push_back(call("wait", {{"ms", delays[i]}}, "c" + std::to_string(i)));
    f.provider->reply_tool_calls(calls).reply_text("ok");
    const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{wait}, .parallel_tools_max = 3});
    alloy::test::run(c.in(f.rt)("go"));
    CHECK(peak == 3);
    const auto results = f.provider->requests().at(1).messages.at(2).tool_results;
    REQUIRE(results.size() == delays.size());
    for (std::size_t i = 0; i < delays.size(); ++i) {
        CHECK(results[i].call_id == "c" + std::to_string(i));
        CHECK(results[i].content == std::to_string(delays[i]));
    }
}

TEST_CASE("blocking tools run on the thread pool, not the io_context thread", "[engine][tools]") {
    Fixture f;
    std::thread::id body_thread;
    const auto slow = alloy::tool("slow", "Blocks", [&body_thread](AddArgs x) {
                          body_thread = std::this_thread::get_id();
                          std::this_thread::sleep_for(5ms);
                          return x.a;
                      }).blocking();
    f.provider->reply_tool_calls({call("slow", {{"a", 7}, {"b", 0}})}).reply_text("ok");
    const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{slow}});
    alloy::test::run(c.in(f.rt)("go"));
    CHECK(body_thread != std::this_thread::get_id());
    CHECK(f.provider->requests().at(1).messages.at(2).tool_results.at(0).content == "7");
}

TEST_CASE("per-tool timeout: an awaitable and a blocking tool that take too long report a timeout",
          "[engine][tools][timeout]") {
    Fixture f;
    const auto sleepy = alloy::tool("sleepy", "Sleeps", [](WaitArgs w) -> asio::awaitable<int> {
                            asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(w.ms));
                            co_await t.async_wait(asio::use_awaitable);
                            co_return 1;
                        }).timeout(20ms);
    const auto blocker = alloy::tool("blocker", "Blocks", [](WaitArgs w) {
                             std::this_thread::sleep_for(std::chrono::milliseconds(w.ms));
                             return 1;
                         }).blocking().timeout(20ms);
    f.provider->reply_tool_calls({call("sleepy", {{"ms", 2000}}), call("blocker", {{"ms", 300}}), call("sleepy", {{"ms", 1}})})
        .reply_text("ok");
    const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{sleepy, blocker}});
    const auto started = std::chrono::steady_clock::now();
    alloy::test::run(c.in(f.rt)("go"));
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
    const auto results = f.provider->requests().at(1).messages.at(2).tool_results;
    CHECK(results[0].is_error);
    CHECK_THAT(results[0].content, Catch::Contains("tool 'sleepy' timed out after 20 ms"));
    CHECK(results[1].is_error);
    CHECK_THAT(results[1].content, Catch::Contains("tool 'blocker' timed out after 20 ms"));
    CHECK_FALSE(results[2].is_error);
}

TEST_CASE("retry: total attempts, last cause kept, success after transient failures", "[engine][retry]") {
    SECTION("succeeds on the third attempt") {
        Fixture f;
        f.provider->fail_status(503).fail_status(500).reply_text("finally");
        const auto c = alloy::command("c", echo, {.retry = 3});
        auto d = alloy::test::run(c.in(f.rt).detailed("x"));
        CHECK(d.value == "finally");
        CHECK(d.info.attempts == 3);
        CHECK(f.provider->request_count() == 3);
    }
    SECTION("exhausted: the last CommandError passes through with the attempt count") {
        Fixture f;
        f.provider->fail_status(503).fail_status(429);
        const auto c = alloy::command("c", echo, {.retry = 2});
        try {
            alloy::test::run(c.in(f.rt)("x"));
            FAIL("no error");
        } catch (const alloy::CommandError& e) {
            CHECK(e.attempts() == 2);
            CHECK(e.diagnostics().http_status == 429);
            CHECK(e.kind() == alloy::ErrorKind::provider_status);
        }
    }
    SECTION("a non-CommandError failure is wrapped with its cause") {
        Fixture f;
        f.provider->fail(std::runtime_error("socket on fire")).fail(std::runtime_error("still on fire"));
        const auto c = alloy::command("c", echo, {.retry = 2});
        try {
            alloy::test::run(c.in(f.rt)("x"));
            FAIL("no error");
        } catch (const alloy::CommandError& e) {
            CHECK(e.attempts() == 2);
            CHECK(e.kind() == alloy::ErrorKind::other);
            CHECK_THAT(e.what(), Catch::Contains("still on fire") && Catch::Contains("2 attempts"));
            CHECK_THROWS_AS(std::rethrow_exception(e.cause()), std::runtime_error);
        }
    }
    SECTION("parse failures are retried too") {
        Fixture f;
        f.provider->reply_text("nope").reply_text(R"({"value": 7})");
        const auto c = alloy::command<int>("c", echo, {.retry = 2, .auto_finalize_missing_output = false});
        CHECK(alloy::test::run(c.in(f.rt)("x")) == 7);
    }
    SECTION("ConfigurationError is never retried") {
        Fixture f;
        f.provider->fail(alloy::ConfigurationError("bad setup")).reply_text("unused");
        const auto c = alloy::command("c", echo, {.retry = 5});
        CHECK_THROWS_AS(alloy::test::run(c.in(f.rt)("x")), alloy::ConfigurationError);
        CHECK(f.provider->request_count() == 1);
    }
}

TEST_CASE("retry_on filters which failures are retried", "[engine][retry]") {
    SECTION("predicate by kind") {
        Fixture f;
        f.provider->fail_status(503).reply_text("unused");
        const auto c = alloy::command("c", echo, {.retry = 3, .retry_on = alloy::retry_on_kinds({alloy::ErrorKind::timeout})});
        CHECK_THROWS_AS(alloy::test::run(c.in(f.rt)("x")), alloy::CommandError);
        CHECK(f.provider->request_count() == 1);
    }
    SECTION("custom predicate") {
        Fixture f;
        f.provider->fail(std::runtime_error("transient")).reply_text("ok");
        const auto c = alloy::command("c", echo,
                                      {.retry = 3, .retry_on = alloy::RetryPredicate([](const std::exception& e) {
                                           return std::string(e.what()) == "transient";
                                       })});
        CHECK(alloy::test::run(c.in(f.rt)("x")) == "ok");
    }
}

TEST_CASE("retry backoff: delays bounded by the cap, and retry-after honoured", "[engine][retry]") {
    SECTION("backoff stays under the cap") {
        Fixture f;
        f.provider->fail_status(503).fail_status(503).fail_status(503).reply_text("ok");
        const auto c = alloy::command("c", echo, {.retry = 4, .backoff_initial = 5ms, .backoff_max = 10ms});
        const auto started = std::chrono::steady_clock::now();
        alloy::test::run(c.in(f.rt)("x"));
        CHECK(std::chrono::steady_clock::now() - started < 1s);  // three delays of at most 10 ms each
    }
    SECTION("retry-after from the failure wins over the jittered backoff") {
        Fixture f;
        f.provider->fail_status(429, 150ms).reply_text("ok");
        const auto c = alloy::command("c", echo, {.retry = 2, .backoff_initial = 1ms, .backoff_max = 1ms});
        const auto started = std::chrono::steady_clock::now();
        alloy::test::run(c.in(f.rt)("x"));
        CHECK(std::chrono::steady_clock::now() - started >= 150ms);
    }
    SECTION("retry-after is capped by retry_after_max") {
        Fixture f;
        f.provider->fail_status(429, 60s).reply_text("ok");
        const auto c = alloy::command("c", echo, {.retry = 2, .retry_after_max = 20ms});
        const auto started = std::chrono::steady_clock::now();
        alloy::test::run(c.in(f.rt)("x"), 5s);
        CHECK(std::chrono::steady_clock::now() - started < 2s);
    }
}

TEST_CASE("per-attempt timeout is a timeout CommandError and is retried", "[engine][timeout]") {
    Fixture f;
    f.provider->reply_text("slow").delay(2s).reply_text("fast");
    const auto c = alloy::command("c", echo, {.timeout = 30ms, .retry = 2});
    auto d = alloy::test::run(c.in(f.rt).detailed("x"));
    CHECK(d.value == "fast");
    CHECK(d.info.attempts == 2);

    Fixture g;
    g.provider->reply_text("slow").delay(2s).reply_text("slow again").delay(2s);  // both attempts time out
    try {
        alloy::test::run(c.in(g.rt)("x"));
        FAIL("no timeout");
    } catch (const alloy::CommandError& e) {
        CHECK(e.kind() == alloy::ErrorKind::timeout);
        CHECK(e.diagnostics().phase == "attempt");
        CHECK_THAT(e.what(), Catch::Contains("timed out after 30 ms"));
    }
    CHECK(g.provider->in_flight() == 0);
}

TEST_CASE("a failure inside a timeout is reported at once as itself, not when the timer fires",
          "[engine][timeout]") {
    Fixture f;
    f.provider->fail_status(400);
    const auto failing_tool = alloy::tool("add_checked", "Adds", [](AddArgs x) { return x.a + x.b; })
                                  .require([](const AddArgs& x) { return x.b >= 0; }, "b must be non-negative")
                                  .timeout(5s);
    const auto c = alloy::command("c", echo, {.timeout = 5s, .deadline = 8s});
    const auto started = std::chrono::steady_clock::now();
    try {
        alloy::test::run(c.in(f.rt)("x"));
        FAIL("no error");
    } catch (const alloy::CommandError& e) {
        CHECK(e.kind() == alloy::ErrorKind::provider_status);
        CHECK(e.diagnostics().http_status == 400);
    }
    f.provider->reply_tool_calls({call("add_checked", {{"a", 1}, {"b", -1}})}).reply_text("done");
    const auto t = alloy::command("t", echo, {.tools = std::vector<alloy::Tool>{failing_tool}, .timeout = 5s});
    CHECK(alloy::test::run(t.in(f.rt)("x")) == "done");
    CHECK(f.provider->requests().back().messages.back().tool_results.at(0).is_error);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("overall deadline bounds the run across retries and tool turns", "[engine][timeout]") {
    Fixture f;
    f.provider->fail_status(503).fail_status(503).fail_status(503);
    const auto c = alloy::command("c", echo,
                                  {.deadline = 50ms, .retry = 100, .backoff_initial = 40ms, .backoff_max = 40ms});
    try {
        alloy::test::run(c.in(f.rt)("x"));
        FAIL("no deadline");
    } catch (const alloy::CommandError& e) {
        CHECK(e.kind() == alloy::ErrorKind::timeout);
        CHECK(e.diagnostics().phase == "deadline");
    }
}

TEST_CASE("cancellation with || stops the provider call and running tools, nothing keeps running",
          "[engine][cancel]") {
    using namespace asio::experimental::awaitable_operators;
    Fixture f;
    std::atomic<int> tool_finished{0};
    const auto wait = alloy::tool("wait", "Waits", [&tool_finished](WaitArgs w) -> asio::awaitable<int> {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(w.ms));
        co_await t.async_wait(asio::use_awaitable);
        ++tool_finished;
        co_return 1;
    });
    SECTION("during the provider call") {
        f.provider->reply_text("late").delay(5s);
        const auto c = alloy::command("c", echo);
        asio::io_context ctx;
        auto race = [&]() -> asio::awaitable<int> {
            asio::steady_timer timer(co_await asio::this_coro::executor, 20ms);
            auto r = co_await (c.in(f.rt)("x") || timer.async_wait(asio::use_awaitable));
            co_return static_cast<int>(r.index());
        };
        const auto started = std::chrono::steady_clock::now();
        CHECK(alloy::test::run_on(ctx, race()) == 1);
        CHECK(std::chrono::steady_clock::now() - started < 2s);
        CHECK(f.provider->in_flight() == 0);
        CHECK(ctx.stopped());  // no work left behind
    }
    SECTION("during tool calls") {
        f.provider->reply_tool_calls({call("wait", {{"ms", 5000}}), call("wait", {{"ms", 5000}})}).reply_text("unused");
        const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{wait}});
        asio::io_context ctx;
        auto race = [&]() -> asio::awaitable<int> {
            asio::steady_timer timer(co_await asio::this_coro::executor, 30ms);
            auto r = co_await (c.in(f.rt)("x") || timer.async_wait(asio::use_awaitable));
            co_return static_cast<int>(r.index());
        };
        CHECK(alloy::test::run_on(ctx, race()) == 1);
        CHECK(tool_finished == 0);
        CHECK(f.provider->request_count() == 1);
        CHECK(ctx.stopped());
    }
}

TEST_CASE("precedence: call > command > runtime > configure > env > built-ins", "[engine][config]") {
    Fixture f;
    f.provider->otherwise([](const alloy::ModelRequest&) {
        alloy::ModelReply r;
        r.text = "ok";
        return r;
    });
    alloy::configure(alloy::Settings{.model = "configured", .temperature = 0.1, .max_tokens = 100});
    f.rt.set_defaults(alloy::Settings{.model = "runtime", .temperature = 0.2, .backoff_initial = 1ms});
    const auto c = alloy::command("c", echo, {.model = "command"});
    alloy::test::run(c.in(f.rt)("a"));
    alloy::test::run(c.in(f.rt).with({.model = "call", .max_tokens = 7})("b"));
    alloy::configure(alloy::Settings{});
    const auto reqs = f.provider->requests();
    CHECK(reqs[0].model == "command");
    CHECK(*reqs[0].temperature == 0.2);  // runtime over configure
    CHECK(*reqs[0].max_tokens == 100);   // configure, nothing higher set it
    CHECK(reqs[1].model == "call");
    CHECK(*reqs[1].max_tokens == 7);
    CHECK(*reqs[1].temperature == 0.2);  // unset in the call layer: not cleared
}

TEST_CASE("extra merges key-wise across layers", "[engine][config]") {
    Fixture f;
    f.provider->reply_text("ok");
    alloy::Settings cmd_opts;
    cmd_opts.extra = {{"seed", 1}, {"top_p", 0.5}};
    alloy::Settings call_opts;
    call_opts.extra = {{"seed", 2}};
    const auto c = alloy::command("c", echo, cmd_opts);
    alloy::test::run(c.in(f.rt).with(call_opts)("a"));
    const auto req = f.provider->requests().at(0);
    CHECK(req.extra.at("seed").as_int64() == 2);
    CHECK(req.extra.at("top_p").as_double() == 0.5);
}

TEST_CASE("environment layer: ALLOY_* variables reach the request and malformed ones fail the call",
          "[engine][env]") {
    Fixture f;
    f.provider->reply_text("ok").reply_text("ok");
    ::setenv("ALLOY_MODEL", "env-model", 1);
    ::setenv("ALLOY_DEFAULT_SYSTEM", "env system", 1);
    alloy::reload_environment();
    const auto c = alloy::command("c", echo);
    alloy::test::run(c.in(f.rt)("a"));
    ::setenv("ALLOY_MAX_TOKENS", "lots", 1);
    alloy::reload_environment();
    try {
        alloy::test::run(c.in(f.rt)("b"));
        FAIL("no error");
    } catch (const alloy::ConfigurationError& e) {
        CHECK_THAT(e.what(), Catch::Contains("ALLOY_MAX_TOKENS"));
    }
    ::unsetenv("ALLOY_MODEL");
    ::unsetenv("ALLOY_DEFAULT_SYSTEM");
    ::unsetenv("ALLOY_MAX_TOKENS");
    alloy::reload_environment();
    const auto req = f.provider->requests().at(0);
    CHECK(req.model == "env-model");
    CHECK(*req.system == "env system");
}

TEST_CASE("ask: free text with system, context and tools", "[engine][ask]") {
    Fixture f;
    f.provider->reply_tool_calls({call("add", {{"a", 1}, {"b", 2}})}).reply_text("three");
    boost::json::value ctx = {{"user", "ada"}, {"plan", "pro"}};
    std::string out = alloy::test::run(
        f.rt.ask("What is 1+2?", {.tools = std::vector<alloy::Tool>{add}, .system = "Terse.", .context = ctx}));
    CHECK(out == "three");
    const auto req = f.provider->requests().at(0);
    CHECK(*req.system == "Terse.");
    CHECK_THAT(req.messages[0].text, Catch::StartsWith("What is 1+2?") && Catch::Contains(R"("user":"ada")"));
    CHECK(req.tools.size() == 1);
}

TEST_CASE("blocking forms: sync and ask_sync", "[engine][sync]") {
    Fixture f;
    f.provider->reply_text(R"({"value": 3})").reply_text("hi");
    const auto c = alloy::command<int>("c", echo);
    CHECK(c.in(f.rt).sync("x") == 3);
    CHECK(f.rt.ask_sync("hello") == "hi");
}

TEST_CASE("fake backend: schema-driven placeholders, no tools called", "[engine][fake]") {
    alloy::Runtime rt(alloy::Settings{.provider = "fake"});
    const auto extract = alloy::command<Invoice>("extract", echo, {.tools = std::vector<alloy::Tool>{add}});
    Invoice inv = alloy::test::run(extract.in(rt)("x"));
    CHECK(inv.vendor == "example");
    CHECK(inv.items.size() == 1);
    std::string text = alloy::test::run(rt.ask("hello"));
    CHECK_THAT(text, Catch::Contains("hello"));
}

TEST_CASE("ALLOY_BACKEND=fake selects the fake backend", "[engine][fake][env]") {
    ::setenv("ALLOY_BACKEND", "fake", 1);
    alloy::reload_environment();
    alloy::Runtime rt;
    std::string text = alloy::test::run(rt.ask("ping"));
    ::unsetenv("ALLOY_BACKEND");
    alloy::reload_environment();
    CHECK_THAT(text, Catch::StartsWith("[fake]"));
}

TEST_CASE("streams: text chunks, usage, tool turns between streamed turns", "[engine][stream]") {
    Fixture f;
    f.provider->stream_chunk_chars(3);
    alloy::Usage u1;
    u1.input_tokens = 10;
    u1.output_tokens = 2;
    alloy::ModelReply tool_turn;
    tool_turn.text = "Adding. ";
    tool_turn.tool_calls = {call("add", {{"a", 2}, {"b", 2}})};
    tool_turn.usage = u1;
    f.provider->reply(tool_turn).reply_text("The sum is 4.", u1);
    auto stream = f.rt.ask_stream("sum", {.tools = std::vector<alloy::Tool>{add}});
    auto collect = [&]() -> asio::awaitable<std::vector<std::string>> {
        std::vector<std::string> chunks;
        while (auto chunk = co_await stream.next()) chunks.push_back(*chunk);
        co_return chunks;
    };
    auto chunks = alloy::test::run(collect());
    std::string all;
    for (auto& c : chunks) all += c;
    CHECK(all == "Adding. The sum is 4.");
    CHECK(chunks.size() > 3);
    CHECK(stream.usage().input_tokens == 20);
    CHECK(f.provider->requests().at(1).messages.at(2).tool_results.at(0).content == "4");
}

TEST_CASE("streams: typed commands refuse to stream; providers without tool streaming refuse tools",
          "[engine][stream]") {
    Fixture f;
    const auto typed = alloy::command<Invoice>("t", echo);
    CHECK_THROWS_AS(typed.in(f.rt).stream("x"), alloy::ConfigurationError);
    f.provider->with_capabilities({.streaming = true, .streaming_with_tools = false, .structured_output = true});
    auto s = f.rt.ask_stream("x", {.tools = std::vector<alloy::Tool>{add}});
    auto pull = [&]() -> asio::awaitable<void> { co_await s.next(); };
    CHECK_THROWS_AS(alloy::test::run(pull()), alloy::ConfigurationError);
}

TEST_CASE("streams: failures before any text are retried, blocking iteration works", "[engine][stream]") {
    Fixture f;
    f.provider->fail_status(503).reply_text("hello world");
    auto s = f.rt.ask_stream("x", {.retry = 2});
    std::string all;
    while (auto chunk = s.next_sync()) all += *chunk;
    CHECK(all == "hello world");
    CHECK(f.provider->request_count() == 2);
}
