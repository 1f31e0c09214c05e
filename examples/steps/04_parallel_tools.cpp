// Example 04: parallel tool calls.
//
// When the model asks for several calls in one turn, the engine runs them concurrently on the caller's
// executor, at most `parallel_tools_max` at once (built-in 8), and sends the results back in call order
// whatever order they finish in. Provider: the mock speaking Gemini generateContent.
//
// The tool body is a coroutine that waits on a timer (standing in for a slow lookup): the first call
// is slow, the second fast, so they finish in reverse order. Run once with the default cap, once with
// `parallel_tools_max = 1`, and compare the peak number of bodies running at once and the wall time.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/describe.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct LookupArgs {
    std::string city;
    int delay_ms;
};
BOOST_DESCRIBE_STRUCT(LookupArgs, (), (city, delay_ms))

// Bookkeeping for the demonstration: how many bodies run at once, and in which order they finish.
std::atomic<int> running{0};
std::atomic<int> peak{0};
std::mutex finish_mutex;
std::vector<std::string> finish_order;

// The body takes its argument by value: it is a coroutine (see the coroutine notes in the docs).
const auto lookup = alloy::tool("lookup_weather", "Current weather of a city",
                                [](LookupArgs args) -> asio::awaitable<std::string> {
                                    const int now = ++running;
                                    int seen = peak.load();
                                    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
                                    }
                                    asio::steady_timer timer(co_await asio::this_coro::executor,
                                                             std::chrono::milliseconds(args.delay_ms));
                                    co_await timer.async_wait(asio::use_awaitable);
                                    --running;
                                    {
                                        std::lock_guard lock(finish_mutex);
                                        finish_order.push_back(args.city);
                                    }
                                    co_return args.city + ": sunny";
                                });

const auto weather =
    alloy::command("weather", [](const std::string& q) { return q; }, {.tools = std::vector<alloy::Tool>{lookup}});

// Two calls in one turn: Paris takes 300 ms, Oslo 100 ms.
constexpr const char* prompt = R"(Weather in Paris and Oslo? )"
                               R"([[call lookup_weather {"city": "Paris", "delay_ms": 300}]] )"
                               R"([[call lookup_weather {"city": "Oslo", "delay_ms": 100}]])";

asio::awaitable<void> run_with_cap(alloy::Runtime& rt, int cap) {
    peak = 0;
    finish_order.clear();
    const auto started = std::chrono::steady_clock::now();
    const auto capped = weather.in(rt).with({.parallel_tools_max = cap});
    const std::string answer = co_await capped(prompt);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

    std::cout << "parallel_tools_max = " << cap << ":\n";
    std::cout << "  finished first: " << finish_order.at(0) << ", then " << finish_order.at(1) << "\n";
    std::cout << "  answer (results in call order): " << answer << "\n";
    std::cout << "  peak concurrency: " << peak.load() << "\n";
    std::cout << "  wall time: " << (ms >= 400ms ? ">= 400 ms (one after the other)" : "< 400 ms (overlapped)") << "\n";
}

asio::awaitable<void> run(alloy::Runtime& rt) {
    co_await run_with_cap(rt, 8);  // the built-in cap; both calls run at once
    co_await run_with_cap(rt, 1);  // one at a time, still in call order
}

int main() {
    try {
        alloy::mock::Server server;
        asio::io_context io;
        // The mock's Gemini endpoint checks that an API key is sent; any value does.
        alloy::Runtime rt({.model = "gemini-2.5-flash",
                           .provider = "gemini",
                           .base_url = server.base_url(),
                           .api_key = "mock-key"});
        auto done = asio::co_spawn(io, run(rt), asio::use_future);
        io.run();
        done.get();
        std::cout << "example 04 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 04 failed: " << e.what() << "\n";
        return 1;
    }
}
