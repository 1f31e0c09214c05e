// Idempotent tools: replay of completed keys across retries and turns, single execution for concurrent
// calls, scopes, and the bounded in-memory store.
#include <alloy/alloy.hpp>
#include <alloy/testing.hpp>

#include "support/async_test.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using alloy::testing::call;
using alloy::testing::ScriptedProvider;
namespace asio = boost::asio;

namespace {

struct ChargeArgs {
    std::string order_id;
    int cents;
};
BOOST_DESCRIBE_STRUCT(ChargeArgs, (), (order_id, cents))

struct Fixture {
    std::shared_ptr<ScriptedProvider> provider = std::make_shared<ScriptedProvider>();
    alloy::Runtime rt{alloy::Settings{.backoff_initial = 1ms, .backoff_max = 1ms}};
    Fixture() { rt.set_provider(provider); }
};

std::string echo(std::string_view s) { return std::string(s); }

}  // namespace

TEST_CASE("a side-effecting tool runs exactly once although the whole command is retried", "[idempotency]") {
    Fixture f;
    std::atomic<int> charges{0};
    const auto charge = alloy::tool("charge", "Charge an order",
                                    [&charges](ChargeArgs a) { return "receipt-" + a.order_id + "-" + std::to_string(++charges); })
                            .idempotency_key([](const ChargeArgs& a) { return a.order_id; });
    // Attempt 1: the model charges, then the provider fails. Attempt 2: the model charges again.
    f.provider->reply_tool_calls({call("charge", {{"order_id", "A-1"}, {"cents", 500}})})
        .fail_status(503)
        .reply_tool_calls({call("charge", {{"order_id", "A-1"}, {"cents", 500}})})
        .reply_text("charged");
    const auto pay = alloy::command("pay", echo, {.tools = std::vector<alloy::Tool>{charge}, .retry = 2});
    auto d = alloy::test::run(pay.in(f.rt).detailed("pay order A-1"));
    CHECK(d.value == "charged");
    CHECK(d.info.attempts == 2);
    CHECK(charges == 1);
    const auto reqs = f.provider->requests();
    REQUIRE(reqs.size() == 4);
    CHECK(reqs[1].messages.at(2).tool_results.at(0).content == "receipt-A-1-1");
    CHECK(reqs[3].messages.at(2).tool_results.at(0).content == "receipt-A-1-1");  // replayed
}

TEST_CASE("idempotent calls across turns and within a turn run the body once per key", "[idempotency]") {
    Fixture f;
    std::atomic<int> runs{0};
    const auto charge =
        alloy::tool("charge", "Charge",
                    [&runs](ChargeArgs a) -> asio::awaitable<std::string> {
                        ++runs;
                        asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
                        co_await t.async_wait(asio::use_awaitable);
                        co_return "ok-" + a.order_id;
                    })
            .idempotency_key([](const ChargeArgs& a) { return a.order_id; });
    f.provider
        ->reply_tool_calls({call("charge", {{"order_id", "X"}, {"cents", 1}}), call("charge", {{"order_id", "X"}, {"cents", 1}}),
                            call("charge", {{"order_id", "Y"}, {"cents", 1}})})
        .reply_tool_calls({call("charge", {{"order_id", "X"}, {"cents", 1}})})
        .reply_text("done");
    const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{charge}});
    alloy::test::run(c.in(f.rt)("go"));
    CHECK(runs == 2);  // X once (concurrent duplicate waited), Y once; turn 2's X replayed
    const auto reqs = f.provider->requests();
    const auto& first = reqs[1].messages.at(2).tool_results;
    CHECK(first[0].content == "ok-X");
    CHECK(first[1].content == "ok-X");
    CHECK(first[2].content == "ok-Y");
    CHECK(reqs[2].messages.at(4).tool_results.at(0).content == "ok-X");
}

TEST_CASE("run scope: a new run executes again; global scope shares keys across runs", "[idempotency]") {
    std::atomic<int> runs{0};
    auto body = [&runs](ChargeArgs a) { return a.order_id + std::to_string(++runs); };
    for (auto scope : {alloy::IdempotencyScope::run, alloy::IdempotencyScope::global}) {
        Fixture f;
        runs = 0;
        const auto charge = alloy::tool("charge", "Charge", body).idempotency_key(
            [](const ChargeArgs& a) { return a.order_id; }, scope);
        for (int i = 0; i < 2; ++i)
            f.provider->reply_tool_calls({call("charge", {{"order_id", "Z"}, {"cents", 1}})}).reply_text("ok");
        const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{charge}});
        alloy::test::run(c.in(f.rt)("one"));
        alloy::test::run(c.in(f.rt)("two"));
        CHECK(runs == (scope == alloy::IdempotencyScope::run ? 2 : 1));
    }
}

TEST_CASE("failed calls are not recorded: the next call with the key runs the body", "[idempotency]") {
    Fixture f;
    std::atomic<int> runs{0};
    const auto flaky = alloy::tool("flaky", "Fails first",
                                   [&runs](ChargeArgs a) -> std::string {
                                       if (++runs == 1) throw std::runtime_error("card network down");
                                       return "ok-" + a.order_id;
                                   })
                           .idempotency_key([](const ChargeArgs& a) { return a.order_id; });
    f.provider->reply_tool_calls({call("flaky", {{"order_id", "Q"}, {"cents", 1}})})
        .reply_tool_calls({call("flaky", {{"order_id", "Q"}, {"cents", 1}})})
        .reply_text("ok");
    const auto c = alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{flaky}});
    alloy::test::run(c.in(f.rt)("go"));
    CHECK(runs == 2);
    const auto reqs = f.provider->requests();
    CHECK(reqs[1].messages.at(2).tool_results.at(0).is_error);
    CHECK(reqs[2].messages.at(4).tool_results.at(0).content == "ok-Q");
}

TEST_CASE("a pluggable store receives the completed results", "[idempotency]") {
    struct RecordingStore : alloy::IdempotencyStore {
        std::mutex m;
        std::map<std::string, std::string> data;
        std::optional<std::string> get(const std::string& k) override {
            std::lock_guard l(m);
            auto it = data.find(k);
            return it == data.end() ? std::nullopt : std::optional<std::string>(it->second);
        }
        void put(const std::string& k, const std::string& v) override {
            std::lock_guard l(m);
            data[k] = v;
        }
    };
    Fixture f;
    auto store = std::make_shared<RecordingStore>();
    f.rt.set_idempotency_store(store);
    const auto charge = alloy::tool("charge", "Charge", [](ChargeArgs a) { return "r-" + a.order_id; })
                            .idempotency_key([](const ChargeArgs& a) { return a.order_id; }, alloy::IdempotencyScope::global);
    f.provider->reply_tool_calls({call("charge", {{"order_id", "K"}, {"cents", 1}})}).reply_text("ok");
    alloy::test::run(alloy::command("c", echo, {.tools = std::vector<alloy::Tool>{charge}}).in(f.rt)("go"));
    REQUIRE(store->data.size() == 1);
    CHECK(store->data.begin()->first == "*/charge/K");
    CHECK(store->data.begin()->second == "r-K");
}

TEST_CASE("in-memory store: bounded, oldest evicted, entries expire", "[idempotency]") {
    alloy::InMemoryIdempotencyStore store(2, 50ms);
    store.put("a", "1");
    store.put("b", "2");
    store.put("c", "3");
    CHECK(store.size() == 2);
    CHECK_FALSE(store.get("a"));
    CHECK(*store.get("c") == "3");
    std::this_thread::sleep_for(80ms);
    CHECK_FALSE(store.get("b"));
}
