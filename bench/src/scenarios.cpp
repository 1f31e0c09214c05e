#include "scenarios.hpp"

#include <alloy/alloy.hpp>

#include <boost/describe.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace asio = boost::asio;

namespace bench {

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

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The prompts carry the mock's directives; a real model reads them as ordinary text (the tool scenario
// still offers `add`, so a real model calls it too).
const auto text_command = alloy::command<std::string>(
    "greet", [](int n) { return "Say hello to user " + std::to_string(n) + " in five words."; });

const auto typed_command = alloy::command<Invoice>("extract_invoice", [](int n) {
    return "Extract the invoice from: ACME order " + std::to_string(n) + ", 2 widgets, total $12";
});

const auto add_tool = alloy::tool("add", "Add two integers", [](AddArgs x) { return x.a + x.b; });

const auto tool_command = alloy::command<std::string>(
    "add_numbers",
    [](int n) {
        return "What is " + std::to_string(n) + " + 3? Use the add tool. [[call add {\"a\":" + std::to_string(n) +
               ",\"b\":3}]]";
    },
    {.tools = std::vector<alloy::Tool>{add_tool}});

const auto stream_command = alloy::command<std::string>(
    "haiku", [](int n) { return "Write haiku number " + std::to_string(n) + " about the sea. [[chunks 16]]"; });

/// Streams report per-request latency from the open to the last byte.
class TimedStream final : public alloy::ReplyStream {
public:
    TimedStream(std::unique_ptr<alloy::ReplyStream> inner, Clock::time_point started)
        : inner_(std::move(inner)), started_(started) {}
    asio::awaitable<std::optional<std::string>> next() override {
        std::optional<std::string> chunk = co_await inner_->next();
        if (!chunk) {
            if (Recorder* r = thread_recorder(); r && r->on) r->request_ms.push_back(ms_since(started_));
        }
        co_return chunk;
    }
    const alloy::ModelReply& final() const override { return inner_->final(); }

private:
    std::unique_ptr<alloy::ReplyStream> inner_;
    Clock::time_point started_;
};

/// Records one request: its latency when it succeeded (ok() was called), else a failed request.
class RequestTiming {
public:
    RequestTiming(Recorder* r, Clock::time_point started) : r_(r && r->on ? r : nullptr), started_(started) {
        if (r_) ++r_->requests;
    }
    ~RequestTiming() {
        if (r_ && !ok_) ++r_->failed_requests;
    }
    RequestTiming(const RequestTiming&) = delete;
    RequestTiming& operator=(const RequestTiming&) = delete;
    alloy::ModelReply&& ok(alloy::ModelReply&& reply) {
        ok_ = true;
        if (r_) r_->request_ms.push_back(ms_since(started_));
        return std::move(reply);
    }

private:
    Recorder* r_;
    Clock::time_point started_;
    bool ok_ = false;
};

class TimedProvider final : public alloy::Provider {
public:
    explicit TimedProvider(std::shared_ptr<alloy::Provider> inner) : inner_(std::move(inner)) {}
    std::string_view name() const noexcept override { return inner_->name(); }
    alloy::ProviderCapabilities capabilities() const noexcept override { return inner_->capabilities(); }

    asio::awaitable<alloy::ModelReply> complete(const alloy::ModelRequest& request) override {
        // No reply local: this frame is alive for every in-flight request and counts in the peak RSS.
        RequestTiming timing{thread_recorder(), Clock::now()};
        co_return timing.ok(co_await inner_->complete(request));
    }

    asio::awaitable<std::unique_ptr<alloy::ReplyStream>> stream(const alloy::ModelRequest& request) override {
        const auto started = Clock::now();
        Recorder* r = thread_recorder();
        if (r && r->on) ++r->requests;
        try {
            std::unique_ptr<alloy::ReplyStream> s = co_await inner_->stream(request);
            co_return std::make_unique<TimedStream>(std::move(s), started);
        } catch (...) {
            if (r && r->on) ++r->failed_requests;
            throw;
        }
    }

private:
    std::shared_ptr<alloy::Provider> inner_;
};

void record_failure(Recorder& r, const std::string& kind, const char* what) {
    ++r.failed;
    ++r.errors[kind];
    if (r.first_error.empty()) r.first_error = kind + ": " + what;
}

void record_run(Recorder& r, const alloy::RunInfo& info, Clock::time_point started) {
    r.e2el_ms.push_back(ms_since(started));
    ++r.ok;
    r.input_tokens += static_cast<std::uint64_t>(info.usage.input_tokens);
    r.output_tokens += static_cast<std::uint64_t>(info.usage.output_tokens);
    if (info.attempts > 1) r.retries["command"] += static_cast<std::uint64_t>(info.attempts - 1);
}

asio::awaitable<void> run_stream(alloy::Runtime& rt, int n, Recorder& r) {
    const auto started = Clock::now();
    alloy::TextStream stream = stream_command.in(rt).stream(n);
    std::optional<Clock::time_point> last;
    double ttft = 0;
    for (;;) {
        std::optional<std::string> chunk = co_await stream.next();
        if (!chunk) break;
        const auto now = Clock::now();
        if (!last) ttft = std::chrono::duration<double, std::milli>(now - started).count();
        else if (r.on) r.itl_ms.push_back(std::chrono::duration<double, std::milli>(now - *last).count());
        last = now;
    }
    if (!r.on) co_return;
    const double e2el = ms_since(started);
    const alloy::Usage usage = stream.usage();
    r.e2el_ms.push_back(e2el);
    ++r.ok;
    r.input_tokens += static_cast<std::uint64_t>(usage.input_tokens);
    r.output_tokens += static_cast<std::uint64_t>(usage.output_tokens);
    if (last) r.ttft_ms.push_back(ttft);
    if (usage.output_tokens > 1) r.tpot_ms.push_back((e2el - ttft) / static_cast<double>(usage.output_tokens - 1));
}

/// Records the exception being handled as a failed command (call from a catch block).
void record_current_failure(Recorder& r) {
    // Warm-up failures count too: a broken setup must not pass as an empty measurement.
    try {
        throw;
    } catch (const alloy::CommandError& e) {
        record_failure(r, std::string(alloy::to_string(e.kind())), e.what());
    } catch (const alloy::ConfigurationError& e) {
        record_failure(r, "configuration", e.what());
    } catch (const std::exception& e) {
        record_failure(r, "other", e.what());
    }
}

/// One command of a text, typed or tool scenario.
template <class Cmd>
asio::awaitable<void> run_detailed(const Cmd& command, alloy::Runtime& rt, int n, Recorder& r) {
    const auto started = Clock::now();
    try {
        const auto d = co_await command.in(rt).detailed(n);
        if (r.on) record_run(r, d.info, started);
    } catch (...) {
        record_current_failure(r);
    }
}

/// One command of the stream scenario.
asio::awaitable<void> run_streamed(alloy::Runtime& rt, int n, Recorder& r) {
    try {
        co_await run_stream(rt, n, r);
    } catch (...) {
        record_current_failure(r);
    }
}

}  // namespace

Recorder*& thread_recorder() {
    thread_local Recorder* recorder = nullptr;
    return recorder;
}

std::shared_ptr<alloy::Provider> timed(std::shared_ptr<alloy::Provider> inner) {
    return std::make_shared<TimedProvider>(std::move(inner));
}

asio::awaitable<void> run_one(Scenario scenario, alloy::Runtime& rt) {
    // Not a coroutine: the scenario's own coroutine is the only frame per command (with thousands of
    // commands in flight, the harness's frames count in the peak RSS it reports).
    Recorder& r = *thread_recorder();
    thread_local int sequence = 0;
    const int n = ++sequence % 1000;
    switch (scenario) {
    case Scenario::text: return run_detailed(text_command, rt, n, r);
    case Scenario::typed: return run_detailed(typed_command, rt, n, r);
    case Scenario::tool: return run_detailed(tool_command, rt, n, r);
    case Scenario::stream: break;
    }
    return run_streamed(rt, n, r);
}

}  // namespace bench
