// alloy-bench: a load generator for alloy commands. See bench/README.md for the metrics and how to run it.
//
// Each client thread runs its own io_context; commands run through the public API (Command::in(rt)) in
// one Runtime whose provider is an HttpProvider wrapped to time every request. A warm-up phase runs
// first; the measured phase is bracketed by snapshots of per-thread CPU, heap allocations, connections
// opened and (optionally) the mock server's CPU.
#include "alloc_counter.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "scenarios.hpp"

#include "http/client.hpp"
#include "providers/factory.hpp"

#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace bench {
namespace {

double cpu_us(const rusage& u) {
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double self_cpu_us() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return cpu_us(u);
}

double thread_cpu_us() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return cpu_us(u);
}

double peak_rss_mib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

/// CPU time (user + system) of another process, from /proc/PID/stat; -1 when unreadable.
double process_cpu_us(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15 are utime and stime
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Raises the open-file limit to its hard limit: every in-flight command may hold a connection.
void raise_fd_limit() {
    rlimit l{};
    if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
        l.rlim_cur = l.rlim_max;
        setrlimit(RLIMIT_NOFILE, &l);
    }
}

/// One phase (warm-up or measured) of the run, shared by every client thread.
struct Phase {
    std::size_t total = 0;                    ///< commands to start; 0 = until the deadline
    std::optional<Clock::time_point> deadline;
    std::atomic<std::size_t> next{0};         ///< closed loop: next command number
    std::atomic<std::size_t> done{0};
    std::atomic<std::size_t> outstanding{0};  ///< workers / generators and spawned commands not finished
    std::promise<void> finished;

    void leave() {
        if (outstanding.fetch_sub(1) == 1) finished.set_value();
    }
};

asio::awaitable<void> closed_worker(Scenario scenario, alloy::Runtime& rt, Phase& phase) {
    for (;;) {
        if (phase.total != 0 && phase.next.fetch_add(1) >= phase.total) break;
        if (phase.deadline && Clock::now() >= *phase.deadline) break;
        co_await run_one(scenario, rt);
        phase.done.fetch_add(1, std::memory_order_relaxed);
    }
    phase.leave();
}

asio::awaitable<void> one_arrival(Scenario scenario, alloy::Runtime& rt, Phase& phase) {
    co_await run_one(scenario, rt);
    phase.done.fetch_add(1, std::memory_order_relaxed);
    phase.leave();
}

/// Open loop: Poisson arrivals at `rate` per second on this thread, `count` of them (0: until the deadline).
asio::awaitable<void> arrivals(Scenario scenario, alloy::Runtime& rt, Phase& phase, double rate, std::size_t count,
                               std::uint64_t seed) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    std::mt19937_64 rng(seed);
    std::exponential_distribution<double> gap(rate);
    auto at = Clock::now();
    for (std::size_t i = 0; count == 0 || i < count; ++i) {
        at += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
        if (phase.deadline && at >= *phase.deadline) break;
        timer.expires_at(at);
        co_await timer.async_wait(asio::use_awaitable);
        phase.outstanding.fetch_add(1);
        asio::co_spawn(executor, one_arrival(scenario, rt, phase), asio::detached);
    }
    phase.leave();
}

/// The client threads: one io_context each, with the thread's recorder installed.
class ClientThreads {
public:
    explicit ClientThreads(int n) : recorders_(static_cast<std::size_t>(n)) {
        for (int i = 0; i < n; ++i) {
            contexts_.push_back(std::make_unique<asio::io_context>(1));
            guards_.emplace_back(contexts_.back()->get_executor());
        }
        for (int i = 0; i < n; ++i) {
            threads_.emplace_back([this, i] {
                thread_recorder() = &recorders_[static_cast<std::size_t>(i)];
                count_allocations_on_this_thread();
                contexts_[static_cast<std::size_t>(i)]->run();
            });
        }
    }
    ~ClientThreads() { stop(); }

    std::size_t size() const { return contexts_.size(); }
    asio::io_context& context(std::size_t i) { return *contexts_[i]; }

    /// Runs `f` on every client thread and waits; returns the sum of what it returned.
    template <class F>
    double on_each(F f) {
        std::vector<std::future<double>> results;
        for (std::size_t i = 0; i < contexts_.size(); ++i) {
            auto task = std::make_shared<std::packaged_task<double()>>([f, this, i] { return f(recorders_[i]); });
            results.push_back(task->get_future());
            asio::post(*contexts_[i], [task] { (*task)(); });
        }
        double sum = 0;
        for (auto& r : results) sum += r.get();
        return sum;
    }

    Recorder merged() const {
        Recorder all;
        for (const auto& r : recorders_) all.merge(r);
        return all;
    }

    void stop() {
        for (auto& c : contexts_) c->stop();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

private:
    std::vector<std::unique_ptr<asio::io_context>> contexts_;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
    std::vector<Recorder> recorders_;
    std::vector<std::thread> threads_;
};

/// Waits for a phase to end, drawing the progress line meanwhile.
void wait_for(Phase& phase, bool progress, const char* label, Clock::time_point started) {
    auto finished = phase.finished.get_future();
    auto last_print = Clock::now();
    std::size_t last_done = 0;
    while (finished.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
        if (!progress) continue;
        const auto now = Clock::now();
        if (now - last_print < std::chrono::seconds(1)) continue;
        const std::size_t done = phase.done.load();
        const double secs = std::chrono::duration<double>(now - last_print).count();
        std::fprintf(stderr, "\r%s %6.1f s  %10zu done  %10.1f cmd/s  %8zu in flight   ", label,
                     std::chrono::duration<double>(now - started).count(), done,
                     static_cast<double>(done - last_done) / secs, phase.outstanding.load());
        last_print = now;
        last_done = done;
    }
    if (progress) std::fprintf(stderr, "\n");
}

/// Runs one phase: closed loop with `concurrency` workers, or open loop at `rate`.
void run_phase(ClientThreads& threads, alloy::Runtime& rt, Scenario scenario, Phase& phase, int concurrency,
               std::optional<double> rate, bool progress, const char* label) {
    const auto started = Clock::now();
    const std::size_t n = threads.size();
    if (!rate) {
        phase.outstanding = static_cast<std::size_t>(concurrency);
        for (int w = 0; w < concurrency; ++w)
            asio::co_spawn(threads.context(static_cast<std::size_t>(w) % n), closed_worker(scenario, rt, phase),
                           asio::detached);
    } else {
        phase.outstanding = n;
        for (std::size_t t = 0; t < n; ++t) {
            const std::size_t share = phase.total == 0 ? 0 : phase.total / n + (t < phase.total % n ? 1 : 0);
            if (phase.total != 0 && share == 0) {
                phase.leave();
                continue;
            }
            asio::co_spawn(threads.context(t),
                           arrivals(scenario, rt, phase, *rate / static_cast<double>(n), share, 0x9e3779b9u + t),
                           asio::detached);
        }
    }
    wait_for(phase, progress, label, started);
}

int run(const Options& o) {
    raise_fd_limit();

    std::unique_ptr<alloy::mock::Server> mock;
    std::string base_url = o.url;
    std::string target = o.url;
    if (o.mock) {
        alloy::mock::ServerOptions so;
        so.threads = o.mock_threads;
        so.response_delay = std::chrono::milliseconds(o.mock_delay_ms);
        so.max_recorded_requests = 0;
        mock = std::make_unique<alloy::mock::Server>(so);
        base_url = mock->base_url() + "/v1";
        target = "in-process alloy-mock (" + std::to_string(o.mock_threads) + " thread" +
                 (o.mock_threads == 1 ? "" : "s") + ", delay " + std::to_string(o.mock_delay_ms) + " ms)";
    }

    // Client threads first: the HTTP client's pooled sockets belong to their io_contexts, so the
    // client (owned by the runtime and the provider) is destroyed before them.
    ClientThreads threads(o.threads);

    alloy::Settings layer;
    layer.provider = o.provider;
    layer.base_url = base_url;
    if (!o.model.empty()) layer.model = o.model;
    else if (o.mock) layer.model = "mock-model";
    if (!o.api_key.empty()) layer.api_key = o.api_key;
    if (o.max_tokens) layer.max_tokens = *o.max_tokens;
    if (o.timeout_ms > 0) layer.timeout = std::chrono::milliseconds(o.timeout_ms);
    if (o.request_retries >= 0) layer.http.request_retries = o.request_retries;
    const int per_thread = (o.concurrency + o.threads - 1) / o.threads;
    layer.http.max_connections_per_origin = o.max_connections > 0 ? o.max_connections : std::max(per_thread, 1);

    auto client = std::make_shared<alloy::http::Client>();
    std::shared_ptr<alloy::Provider> provider;
    alloy::ResolvedSettings resolved;
    try {
        resolved = alloy::resolve(alloy::merge(alloy::settings_from_env(), layer));
        provider = alloy::providers::make_http_provider(
            resolved, client, [](const char* name) { return std::getenv(name); },
            [](int, std::chrono::milliseconds, const alloy::Diagnostics& why) {
                Recorder* r = thread_recorder();
                if (!r || !r->on) return;
                const std::string cause = why.http_status != 0 ? "http_" + std::to_string(why.http_status)
                                          : why.phase.empty() ? std::string("transport")
                                                              : why.phase;
                ++r->retries["request:" + cause];
            });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "alloy-bench: %s\n", e.what());
        return 2;
    }
    alloy::Runtime rt(layer);
    rt.set_provider(timed(provider));

    const bool progress = o.progress.value_or(isatty(STDERR_FILENO) != 0);

    // Warm-up: closed loop, excluded from every figure.
    if (o.warmup > 0) {
        Phase warm;
        warm.total = o.warmup;
        const int c = static_cast<int>(std::min<std::size_t>(o.warmup, o.rate ? 32 : static_cast<std::size_t>(o.concurrency)));
        run_phase(threads, rt, o.scenario, warm, c, std::nullopt, progress, "warm-up");
    }

    // Snapshot, switch recording on (on the client threads themselves), measure, snapshot.
    const auto client_stats_before = client->stats();
    const double mock_before = mock ? self_cpu_us() - thread_cpu_us() : (o.mock_pid ? process_cpu_us(o.mock_pid) : -1);
    const std::uint64_t mock_requests_before = mock ? mock->stats().requests : 0;
    const double cpu_before = threads.on_each([](Recorder& r) {
        r = Recorder{};
        r.on = true;
        return thread_cpu_us();
    });
    const std::uint64_t allocs_before = allocations();
    const auto started = Clock::now();

    Phase measured;
    measured.total = o.commands.value_or(0);
    if (o.duration) measured.deadline = started + *o.duration;
    run_phase(threads, rt, o.scenario, measured, o.concurrency, o.rate, progress, "measure");

    const auto ended = Clock::now();
    const std::uint64_t allocs_after = allocations();
    const double cpu_after = threads.on_each([](Recorder& r) {
        r.on = false;
        return thread_cpu_us();
    });
    const auto client_stats_after = client->stats();

    Report report;
    report.scenario = to_string(o.scenario);
    report.mode = o.rate ? "open loop" : "closed loop, concurrency " + std::to_string(o.concurrency);
    report.target = target;
    report.provider = o.provider;
    report.model = resolved.model;
    report.concurrency = o.concurrency;
    report.rate = o.rate.value_or(0);
    report.threads = o.threads;
    report.warmup = o.warmup;
    report.duration_s = std::chrono::duration<double>(ended - started).count();
    report.totals = threads.merged();
    report.e2el = Distribution::of(report.totals.e2el_ms);
    report.request = Distribution::of(report.totals.request_ms);
    report.ttft = Distribution::of(report.totals.ttft_ms);
    report.itl = Distribution::of(report.totals.itl_ms);
    report.tpot = Distribution::of(report.totals.tpot_ms);
    report.client_cpu_us = cpu_after - cpu_before;
    report.allocations = allocs_after - allocs_before;
    report.connections_opened = client_stats_after.connections_opened - client_stats_before.connections_opened;
    report.connections_total = client_stats_after.connections_opened;
    if (mock) {
        // Process CPU minus this (mostly waiting) main thread, minus the client threads.
        const double mock_after = self_cpu_us() - thread_cpu_us();
        report.mock_cpu_us = (mock_after - mock_before) - (cpu_after - cpu_before);
        report.mock_requests = mock->stats().requests - mock_requests_before;
        report.mock_in_process = true;
    } else if (o.mock_pid) {
        const double after = process_cpu_us(o.mock_pid);
        if (mock_before >= 0 && after >= 0) {
            report.mock_cpu_us = after - mock_before;
            report.mock_requests = report.totals.requests;
        }
    }
    report.peak_rss_mib = peak_rss_mib();
    report.process_cpu_ms = self_cpu_us() / 1000.0;

    threads.stop();
    if (o.json) print_json(report);
    else print_table(report);
    return report.totals.failed == 0 && report.totals.ok > 0 ? 0 : 1;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
    const bench::Options options = bench::parse_options(argc, argv);
    try {
        return bench::run(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "alloy-bench: %s\n", e.what());
        return 2;
    }
}
