// Example 08: an idempotent commit (the prepare / commit pattern).
//
// Side effects and retries do not mix by themselves: if the provider fails after a tool charged a card,
// a command-level retry would charge it again. The pattern:
//   * `prepare` stages the work and is safe to repeat (it only records what would happen);
//   * `commit` performs the side effect. It declares a natural idempotency key (the order id), so a
//     call whose key already completed returns the recorded result instead of running the body again,
//     and its `require` / `ensure` contracts refuse to commit an unprepared order or to report a receipt
//     that does not match what was prepared.
//
// Here the provider fails (HTTP 503) right after the commit ran. With transport retries off, the whole
// command retries: the model calls prepare and commit again, and the commit is replayed from the
// idempotency store. Then the same order is submitted again as a new run: with
// IdempotencyScope::global the key is shared across runs, so that commit is replayed too.
//
// Provider: the mock speaking the OpenAI Responses API.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/describe.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct PrepareArgs {
    std::string order_id;
    int amount_cents;
};
BOOST_DESCRIBE_STRUCT(PrepareArgs, (), (order_id, amount_cents))

struct CommitArgs {
    std::string order_id;
};
BOOST_DESCRIBE_STRUCT(CommitArgs, (), (order_id))

struct Receipt {
    std::string order_id;
    int charged_cents;
};
BOOST_DESCRIBE_STRUCT(Receipt, (), (order_id, charged_cents))

/// A stand-in for the payment system: staged orders and the money actually charged.
struct Ledger {
    std::mutex mutex;
    std::map<std::string, int> prepared;  // order id -> amount
    int charged_cents = 0;
    std::atomic<int> prepare_runs{0};
    std::atomic<int> commit_runs{0};
};
Ledger ledger;

const auto prepare = alloy::tool("prepare", "Stage a payment for an order; safe to repeat",
                                 [](PrepareArgs a) {
                                     ++ledger.prepare_runs;
                                     std::lock_guard lock(ledger.mutex);
                                     ledger.prepared[a.order_id] = a.amount_cents;
                                     return "prepared " + a.order_id;
                                 })
                         .require([](const PrepareArgs& a) { return a.amount_cents > 0; }, "amount must be positive");

int prepared_amount(const std::string& order_id) {
    std::lock_guard lock(ledger.mutex);
    auto it = ledger.prepared.find(order_id);
    return it == ledger.prepared.end() ? -1 : it->second;
}

const auto commit = alloy::tool("commit", "Charge a prepared order",
                                [](CommitArgs a) {
                                    ++ledger.commit_runs;
                                    std::lock_guard lock(ledger.mutex);
                                    const int amount = ledger.prepared.at(a.order_id);
                                    ledger.charged_cents += amount;
                                    return Receipt{a.order_id, amount};
                                })
                        .require([](const CommitArgs& a) { return prepared_amount(a.order_id) > 0; },
                                 "the order must be prepared first")
                        .ensure([](const Receipt& r) { return r.charged_cents == prepared_amount(r.order_id); },
                                "the charge must equal the prepared amount")
                        .idempotency_key([](const CommitArgs& a) { return a.order_id; },
                                         alloy::IdempotencyScope::global);

// One worker at a time, so prepare runs before commit (results come back in call order either way).
const auto checkout = alloy::command("checkout", [](const std::string& order) { return order; },
                                     {.tools = std::vector<alloy::Tool>{prepare, commit},
                                      .retry = 3,
                                      .parallel_tools_max = 1,
                                      .backoff_initial = 20ms,
                                      .http = {.request_retries = 0}});

constexpr const char* order_a17 =
    R"(Check out order A-17 for 12.50. [[call prepare {"order_id": "A-17", "amount_cents": 1250}]] )"
    R"([[call commit {"order_id": "A-17"}]])";

/// Makes the provider fail once, right after the first commit finished: the "crash after the side
/// effect" that idempotency is for.
class FailAfterCommit : public alloy::Observer {
public:
    explicit FailAfterCommit(alloy::mock::Server& server) : server_(server) {}
    void on_event(const alloy::Event& e) override {
        if (e.type == alloy::EventType::tool_end && e.tool == "commit" && !armed_.exchange(true)) {
            alloy::mock::Fault unavailable;
            unavailable.status = 503;
            unavailable.message = "the provider went away after the commit";
            server_.push_fault(unavailable);
            std::cout << "  (provider will fail the next request)\n";
        }
        if (e.type == alloy::EventType::tool_end && !e.reason.empty())
            std::cout << "  tool " << e.tool << ": " << e.reason << "\n";
        if (e.type == alloy::EventType::retry_scheduled)
            std::cout << "  command retry after: " << e.reason << "\n";
    }

private:
    alloy::mock::Server& server_;
    std::atomic<bool> armed_{false};
};

asio::awaitable<void> run(alloy::Runtime& rt) {
    std::cout << "checkout, provider fails after the commit:\n";
    const auto checkout_here = checkout.in(rt);
    alloy::Detailed<std::string> first = co_await checkout_here.detailed(order_a17);
    std::cout << "  answer: " << first.value << "\n";
    std::cout << "  attempts: " << first.info.attempts << "\n";

    std::cout << "the same order submitted again (a new run):\n";
    alloy::Detailed<std::string> again = co_await checkout_here.detailed(order_a17);
    std::cout << "  attempts: " << again.info.attempts << "\n";
}

int main() {
    try {
        alloy::mock::Server server;
        asio::io_context io;
        alloy::Runtime rt({.provider = "openai", .base_url = server.base_url() + "/v1"});
        rt.add_observer(std::make_shared<FailAfterCommit>(server));
        auto done = asio::co_spawn(io, run(rt), asio::use_future);
        io.run();
        done.get();
        std::cout << "prepare ran " << ledger.prepare_runs << " times (staging is safe to repeat)\n";
        std::cout << "commit ran " << ledger.commit_runs << " time" << (ledger.commit_runs == 1 ? "" : "s") << "\n";
        std::cout << "charged: " << ledger.charged_cents << " cents\n";
        if (ledger.commit_runs != 1 || ledger.charged_cents != 1250) {
            std::cerr << "example 08 failed: the commit did not run exactly once\n";
            return 1;
        }
        std::cout << "example 08 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 08 failed: " << e.what() << "\n";
        return 1;
    }
}
