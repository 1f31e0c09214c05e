// Example 05: retries, backoff and timeouts, with faults injected into the mock provider.
//
// Two retry levels exist:
//   * transport: `http.request_retries` (default 2) re-sends one HTTP request after a retryable status
//     (408, 409, 429, 5xx, 529) or a connection failure, honouring Retry-After up to `retry_after_max`;
//   * command: `retry` (total attempts, default 1) re-runs the whole command after any failure except
//     ConfigurationError and cancellation, unless `retry_on` narrows it.
// Delays between retries use exponential backoff with full jitter (`backoff_initial`, `backoff_max`)
// unless the server sent Retry-After. Timeouts: `timeout` bounds each attempt of a command, `deadline`
// the whole command including retries and backoff.
//
// An observer prints every retry the engine schedules (level and delay). Provider: the mock speaking
// OpenAI Chat Completions.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Prints the retries the engine schedules and counts the attempts it starts.
class RetryPrinter : public alloy::Observer {
public:
    std::atomic<int> attempts{0};

    void on_event(const alloy::Event& e) override {
        if (e.type == alloy::EventType::attempt_start) ++attempts;
        if (e.type != alloy::EventType::retry_scheduled) return;
        std::lock_guard lock(mutex_);
        std::cout << "  retry scheduled: level " << e.retry_level << ", delay " << e.delay.count() << " ms";
        if (e.http_status != 0) std::cout << ", after HTTP " << e.http_status;
        if (e.error_kind) std::cout << ", after " << alloy::to_string(*e.error_kind);
        std::cout << "\n";
    }

private:
    std::mutex mutex_;
};

// Faults for the mock: an error status (optionally with a Retry-After hint), or a response that waits
// before its headers.
alloy::mock::Fault http_error(int status, std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
    alloy::mock::Fault fault;
    fault.status = status;
    fault.retry_after = retry_after;
    fault.retry_after_in_ms = true;  // sent as `retry-after-ms`; otherwise whole seconds in `retry-after`
    return fault;
}

alloy::mock::Fault slow_response(std::chrono::milliseconds delay, int times = 1) {
    alloy::mock::Fault fault;
    fault.delay_before_headers = delay;
    fault.times = times;
    return fault;
}

// Retry only timeouts and connection failures. (Built outside the coroutine below: g++ 12 cannot put an
// initializer_list's backing array into a coroutine frame.)
const alloy::RetryPredicate transient_only =
    alloy::retry_on_kinds({alloy::ErrorKind::timeout, alloy::ErrorKind::connection});

const auto greet = alloy::command("greet", [](const std::string& name) { return "Say hello to " + name; });

void print_error(const alloy::CommandError& e, int attempts) {
    std::cout << "  error kind: " << alloy::to_string(e.kind());
    if (!e.diagnostics().phase.empty()) std::cout << " (phase " << e.diagnostics().phase << ")";
    if (e.diagnostics().http_status != 0) std::cout << " (HTTP " << e.diagnostics().http_status << ")";
    std::cout << ", attempts: " << attempts << "\n";
}

asio::awaitable<void> run(alloy::mock::Server& server, alloy::Runtime& rt, RetryPrinter& observer) {
    // Each variant is a named handle: per-call overrides laid over the command's settings. (Naming them
    // also keeps the awaited expressions simple, which g++ 12 needs.)
    const auto plain = greet.in(rt);
    const auto capped = plain.with({.retry_after_max = 200ms});
    const auto command_retries = plain.with({.retry = 2, .backoff_initial = 50ms, .http = {.request_retries = 0}});
    const auto bounded_retried = plain.with({.timeout = 200ms, .retry = 2, .backoff_initial = 10ms});
    const auto bounded = plain.with({.timeout = 200ms});
    const auto with_deadline = plain.with({.timeout = 150ms, .deadline = 500ms, .retry = 10, .backoff_initial = 10ms});
    const auto filtered = plain.with({.retry = 3, .retry_on = transient_only});

    // 1. 429 with Retry-After: the transport waits what the server asked for, then succeeds.
    std::cout << "429 with Retry-After: 300 ms\n";
    server.push_fault(http_error(429, 300ms));
    alloy::Detailed<std::string> d = co_await plain.detailed("Ada");
    std::cout << "  answer: " << d.value << ", attempts: " << d.info.attempts << "\n";

    // 2. A server-directed delay longer than retry_after_max is capped to it.
    std::cout << "429 with Retry-After: 30 s, retry_after_max = 200 ms\n";
    server.push_fault(http_error(429, 30s));
    d = co_await capped.detailed("Grace");
    std::cout << "  answer: " << d.value << ", attempts: " << d.info.attempts << "\n";

    // 3. A 500 with transport retries off: the whole command retries (backoff with full jitter).
    std::cout << "500 with request_retries = 0, retry = 2\n";
    server.push_fault(http_error(500));
    d = co_await command_retries.detailed("Linus");
    std::cout << "  answer: " << d.value << ", attempts: " << d.info.attempts << "\n";

    // 4. A slow response hits the per-attempt timeout; the second attempt is fast.
    std::cout << "response delayed 2 s, timeout = 200 ms, retry = 2\n";
    server.push_fault(slow_response(2s));
    d = co_await bounded_retried.detailed("Barbara");
    std::cout << "  answer: " << d.value << ", attempts: " << d.info.attempts << "\n";

    // 5. The same without a retry: the timeout is the command's error.
    std::cout << "response delayed 2 s, timeout = 200 ms, retry = 1\n";
    observer.attempts = 0;
    server.push_fault(slow_response(2s));
    try {
        co_await bounded("Edsger");
    } catch (const alloy::CommandError& e) {
        print_error(e, observer.attempts);
    }

    // 6. Every response is slow: the overall deadline ends the command across its attempts.
    std::cout << "every response delayed 2 s, timeout = 150 ms, retry = 10, deadline = 500 ms\n";
    server.push_fault(slow_response(2s, 10));
    observer.attempts = 0;
    const auto started = std::chrono::steady_clock::now();
    try {
        co_await with_deadline("Niklaus");
    } catch (const alloy::CommandError& e) {
        print_error(e, observer.attempts);
        const auto elapsed = std::chrono::steady_clock::now() - started;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
        std::cout << "  gave up after " << (ms < 1500ms ? "about 500 ms" : "too long") << "\n";
    }
    server.clear_faults();

    // 7. A 400 is not retried by the transport. The command level retries every failure by default
    //    (except ConfigurationError and cancellation); retry_on narrows that to the kinds worth retrying.
    std::cout << "400 with retry = 3, retry_on = timeout or connection\n";
    server.push_fault(http_error(400));
    observer.attempts = 0;
    try {
        co_await filtered("Alan");
    } catch (const alloy::CommandError& e) {
        print_error(e, observer.attempts);
        std::cout << "  message: " << e.what() << "\n";
    }
}

int main() {
    try {
        alloy::mock::Server server;
        asio::io_context io;
        alloy::Runtime rt({.provider = "openai-chat", .base_url = server.base_url() + "/v1"});
        auto observer = std::make_shared<RetryPrinter>();
        rt.add_observer(observer);
        auto done = asio::co_spawn(io, run(server, rt, *observer), asio::use_future);
        io.run();
        done.get();
        std::cout << "faults applied by the mock: " << server.stats().faults_applied << "\n";
        std::cout << "example 05 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 05 failed: " << e.what() << "\n";
        return 1;
    }
}
