// Example 10: a fan-out of 1,000 concurrent commands with a concurrency limit.
//
// Commands are coroutines on one io_context thread: a thousand of them cost a thousand small coroutine
// frames, not a thousand threads. Unbounded fan-out would still open as many provider requests as it
// can, so the example puts a gate in front: a counting semaphore built from an Asio channel whose buffer
// holds one token per slot (acquire = send a token, blocking while the buffer is full; release = take
// one out). It prints the throughput, the peak number of commands in flight, and how many connections
// the provider saw (the runtime pools and reuses them).
//
// Provider: the mock speaking OpenAI Chat Completions, answering each request after 10 ms.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// At most `limit` holders at a time; waiting is asynchronous. One executor (not thread-safe).
class Gate {
public:
    Gate(asio::any_io_executor executor, std::size_t limit) : tokens_(std::move(executor), limit) {}

    /// Waits for a free slot.
    asio::awaitable<void> acquire() { co_await tokens_.async_send(boost::system::error_code{}, asio::use_awaitable); }

    /// Frees a slot, waking one waiter.
    void release() { tokens_.try_receive([](boost::system::error_code) {}); }

private:
    asio::experimental::channel<void(boost::system::error_code)> tokens_;
};

struct Tally {
    int ok = 0;
    int failed = 0;
    int in_flight = 0;
    int peak = 0;
};

const auto classify = alloy::command("classify", [](int n) { return "Is " + std::to_string(n) + " even or odd?"; });

// Pointers, not references: each task is spawned and must not hold references into a caller's frame.
asio::awaitable<void> task(int n, Gate* gate, Tally* tally, alloy::Runtime* rt) {
    const auto classify_here = classify.in(*rt);
    co_await gate->acquire();
    ++tally->in_flight;
    if (tally->in_flight > tally->peak) tally->peak = tally->in_flight;
    try {
        std::string answer = co_await classify_here(n);
        ++tally->ok;
    } catch (const std::exception& e) {
        if (tally->failed++ == 0) std::cerr << "first failure: " << e.what() << "\n";
    }
    --tally->in_flight;
    gate->release();
}

int main() {
    try {
        constexpr int commands = 1000;
        constexpr std::size_t limit = 64;
        alloy::mock::Server server({.response_delay = 10ms, .max_recorded_requests = 0});
        asio::io_context io(1);
        alloy::Runtime rt({.provider = "openai-chat", .base_url = server.base_url() + "/v1"});
        Gate gate(io.get_executor(), limit);
        Tally tally;

        const auto started = std::chrono::steady_clock::now();
        for (int n = 0; n < commands; ++n) asio::co_spawn(io, task(n, &gate, &tally, &rt), asio::detached);
        io.run();  // returns when every task has finished
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

        std::cout << "completed: " << tally.ok << " of " << commands << ", failed: " << tally.failed << "\n";
        std::cout << "peak in flight: " << tally.peak << " (limit " << limit << ")\n";
        std::cout << "elapsed: " << static_cast<int>(seconds * 1000) << " ms, throughput: "
                  << static_cast<int>(commands / seconds) << " commands/s (10 ms per model answer; sequentially "
                  << "that would be at most 100/s)\n";
        std::cout << "connections the provider accepted: " << server.stats().connections_accepted << "\n";
        if (tally.ok != commands || tally.peak > static_cast<int>(limit)) return 1;
        std::cout << "example 10 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 10 failed: " << e.what() << "\n";
        return 1;
    }
}
