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

const auto greet = alloy::command("greet", [](const std::string& name) { return "Say hello to " + name; });

void print_error(const alloy::CommandError& e, int attempts) {
    std::cout << "  error kind: " << alloy::to_string(e.kind());
    if (!e.diagnostics().phase.empty()) std::cout << " (phase " << e.diagnostics().phase << ")";
    if (e.diagnostics().http_status != 0) std::cout << " (HTTP " << e.diagnostics().http_status << ")";
    std::cout << ", attempts: " << attempts << "\n";
}

asio::awaitable<void> run(alloy::mock::Server& server, alloy::Runtime& rt, RetryPrinter& observer) {
    // 1. 429 with Retry-After: the transport waits what the server asked for, then succeeds.
    std::cout << "429 with Retry-After: 300 ms\n";
    server.push_fault({.status = 429, .retry_after = 300ms, .retry_after_in_ms = true});
    alloy::Detailed<std::string> d = co_await greet.in(rt).detailed("Ada");
    std::cout << "  answer: " << d.value << ", attempts: " << d.info.attempts << "\n";

    // 2. A server-directed delay longer than retry_after_max is capped to it.
    std::cout << "429 with Retry-After: 30 s, retry_after_max = 200 ms\n";
    server.push_fault({.status = 429, .retry_after = 30s});
    d = co_await greet.in(rt).with({.retry_after_max = 200ms}).detailed("Grace");
    std::cout << "  answer: " << d.value << ", attempts: " << d.info.attempts << "\n";

    // 3. A 500 with transport retries off: the whole command retries (backoff with full jitter).
    std::cout << "500 with request_retries = 0, retry = 2\n";
    server.push_fault({.status = 500});
    d = co_await greet.in(rt).with({.retry = 2, .backoff_initial = 50ms, .http = {.request_retries = 0}}).detailed("Linus");
    std::cout << "  answer: " << d.value << ", attempts: " << d.info.attempts << "\n";

    // 4. A slow response hits the per-attempt timeout; the second attempt is fast.
    std::cout << "response delayed 2 s, timeout = 200 ms, retry = 2\n";
    server.push_fault({.delay_before_headers = 2s});
    d = co_await greet.in(rt).with({.timeout = 200ms, .retry = 2, .backoff_initial = 10ms}).detailed("Barbara");
    std::cout << "  answer: " << d.value << ", attempts: " << d.info.attempts << "\n";

    // 5. The same without a retry: the timeout is the command's error.
    std::cout << "response delayed 2 s, timeout = 200 ms, retry = 1\n";
    observer.attempts = 0;
    server.push_fault({.delay_before_headers = 2s});
    try {
        co_await greet.in(rt).with({.timeout = 200ms})("Edsger");
    } catch (const alloy::CommandError& e) {
        print_error(e, observer.attempts);
    }

    // 6. Every response is slow: the overall deadline ends the command across its attempts.
    std::cout << "every response delayed 2 s, timeout = 150 ms, retry = 10, deadline = 500 ms\n";
    server.push_fault({.delay_before_headers = 2s, .times = 10});
    observer.attempts = 0;
    const auto started = std::chrono::steady_clock::now();
    try {
        co_await greet.in(rt).with({.timeout = 150ms, .deadline = 500ms, .retry = 10, .backoff_initial = 10ms})("Niklaus");
    } catch (const alloy::CommandError& e) {
        print_error(e, observer.attempts);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        std::cout << "  gave up after " << (ms < 1500ms ? "about 500 ms" : "too long") << "\n";
    }
    server.clear_faults();

    // 7. A 400 is not retried by the transport. The command level retries every failure by default
    //    (except ConfigurationError and cancellation); retry_on narrows that to the kinds worth retrying.
    std::cout << "400 with retry = 3, retry_on = timeout or connection\n";
    server.push_fault({.status = 400, .message = "unsupported parameter"});
    observer.attempts = 0;
    try {
        co_await greet.in(rt).with({.retry = 3,
                                    .retry_on = alloy::retry_on_kinds({alloy::ErrorKind::timeout,
                                                                       alloy::ErrorKind::connection})})("Alan");
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
