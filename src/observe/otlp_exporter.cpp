// OtlpHttpExporter: a bounded queue filled by export_spans() (any thread, never blocking) and drained by
// one sender coroutine on the exporter's own io_context thread, which posts OTLP/JSON batches with the
// library's HTTP client.
#include "http/client.hpp"

#include <alloy/errors.hpp>
#include <alloy/logging.hpp>
#include <alloy/tracing.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <deque>
#include <future>
#include <optional>
#include <thread>

namespace alloy {

namespace net = boost::asio;

struct OtlpHttpExporter::Impl {
    OtlpHttpExporterOptions options;
    std::string url;
    ResolvedSettings::Http http_settings;

    // Declared before the client and the timers: they are destroyed first.
    net::io_context io;
    std::optional<http::Client> client;
    net::steady_timer wake{io};   // the sender waits on it between batches
    net::steady_timer abort{io};  // expires to abandon an in-flight POST at the end of shutdown's bound

    std::mutex mutex;
    std::deque<Span> queue;
    bool stopping = false;
    bool shut_down = false;
    bool drained = false;
    std::atomic<bool> aborting{false};
    std::atomic<bool> wake_posted{false};

    std::atomic<std::size_t> submitted{0}, exported{0}, failed{0}, dropped{0}, posts{0};

    std::promise<void> finished;
    std::thread thread;

    /// Wakes the sender (runs on the io thread; timers are not thread-safe).
    void post_wake() {
        net::post(io, [this] {
            wake_posted = false;
            wake.cancel();
        });
    }

    net::awaitable<void> wait_for_abort() {
        auto [ec] = co_await abort.async_wait(net::as_tuple(net::use_awaitable));
        (void)ec;
    }

    /// Posts one batch; counts its spans as exported, failed or (abandoned by shutdown) dropped.
    net::awaitable<void> send_batch(std::vector<Span> batch) {
        using namespace net::experimental::awaitable_operators;
        ++posts;
        http::Request request;
        request.method = "POST";
        request.url = url;
        request.headers.set("Content-Type", "application/json");
        for (const auto& [name, value] : options.headers) request.headers.set(name, value);
        request.body = otlp_json(batch, options.service_name);

        std::string problem;
        bool abandoned = false;
        try {
            auto result = co_await (client->send(std::move(request), http_settings) || wait_for_abort());
            if (result.index() == 0) {
                const int status = std::get<0>(result).status;
                if (status < 200 || status >= 300) problem = "the collector answered HTTP " + std::to_string(status);
            } else {
                abandoned = true;
            }
        } catch (const std::exception& e) {
            problem = e.what();
        }
        if (abandoned) {
            dropped += batch.size();
        } else if (problem.empty()) {
            exported += batch.size();
        } else {
            failed += batch.size();
            log_lazy(LogLevel::warn, [&] {
                return "alloy: OTLP export of " + std::to_string(batch.size()) + " spans to " + url +
                       " failed: " + problem;
            });
        }
    }

    /// Takes the next batch: a full one, or (when `partial_ok`) whatever is waiting. Empty when none.
    std::vector<Span> take_batch(bool partial_ok) {
        std::vector<Span> batch;
        std::lock_guard lock(mutex);
        if (aborting) return batch;
        const std::size_t limit = std::max<std::size_t>(1, options.max_batch_size);
        if (queue.size() < limit && !(partial_ok && !queue.empty())) return batch;
        const std::size_t n = std::min(limit, queue.size());
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(queue.front()));
            queue.pop_front();
        }
        return batch;
    }

    net::awaitable<void> run() {
        const std::size_t limit = std::max<std::size_t>(1, options.max_batch_size);
        for (;;) {
            bool stop = false;
            std::size_t waiting = 0;
            {
                std::lock_guard lock(mutex);
                stop = stopping;
                waiting = queue.size();
            }
            bool interval_passed = false;
            if (!stop && waiting < limit) {
                wake.expires_after(options.flush_interval);
                auto [ec] = co_await wake.async_wait(net::as_tuple(net::use_awaitable));
                interval_passed = !ec;
                std::lock_guard lock(mutex);
                stop = stopping;
            }
            // Full batches whenever they are ready; the partial rest once the interval passed or at shutdown.
            for (;;) {
                std::vector<Span> batch = take_batch(interval_passed || stop);
                if (batch.empty()) break;
                co_await send_batch(std::move(batch));
            }
            if (stop) {
                std::lock_guard lock(mutex);
                if (queue.empty() || aborting) break;
            }
        }
        std::lock_guard lock(mutex);
        drained = queue.empty() && !aborting;
        dropped += queue.size();
        queue.clear();
    }
};

OtlpHttpExporter::OtlpHttpExporter(OtlpHttpExporterOptions options) : impl_(std::make_shared<Impl>()) {
    Impl& m = *impl_;
    std::string base = options.endpoint;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0)
        throw ConfigurationError("OTLP endpoint must be an http:// or https:// URL, got '" + options.endpoint + "'");
    m.url = base + "/v1/traces";
    auto& h = m.http_settings;
    h.resolve_timeout = h.connect_timeout = h.tls_timeout = h.write_timeout = options.timeout;
    h.first_byte_timeout = h.stream_idle_timeout = options.timeout;
    h.max_response_bytes = 1u << 20;
    h.request_retries = 0;
    m.options = std::move(options);
    m.client.emplace();
    m.abort.expires_at(net::steady_timer::time_point::max());
    net::co_spawn(m.io, m.run(), [impl = impl_.get()](std::exception_ptr) { impl->finished.set_value(); });
    m.thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

OtlpHttpExporter::~OtlpHttpExporter() { shutdown(); }

void OtlpHttpExporter::export_spans(std::vector<Span> spans) {
    Impl& m = *impl_;
    m.submitted += spans.size();
    bool wake = false;
    {
        std::lock_guard lock(m.mutex);
        if (m.stopping) {
            m.dropped += spans.size();
            return;
        }
        for (auto& span : spans) {
            if (m.queue.size() < m.options.max_queue_size)
                m.queue.push_back(std::move(span));
            else
                ++m.dropped;
        }
        wake = m.queue.size() >= std::max<std::size_t>(1, m.options.max_batch_size);
    }
    if (wake && !m.wake_posted.exchange(true)) m.post_wake();
}

bool OtlpHttpExporter::shutdown(std::chrono::milliseconds bound) {
    Impl& m = *impl_;
    {
        std::lock_guard lock(m.mutex);
        if (m.shut_down) return m.drained;
        m.shut_down = true;
        m.stopping = true;
    }
    m.post_wake();
    auto finished = m.finished.get_future();
    if (finished.wait_for(bound) != std::future_status::ready) {
        // Out of time: abandon the POST in flight and whatever is still queued.
        net::post(m.io, [&m] {
            m.aborting = true;
            m.abort.expires_at(net::steady_timer::time_point::min());
            m.wake.cancel();
        });
        finished.wait_for(std::chrono::seconds(5));
    }
    m.io.stop();
    m.thread.join();
    m.client.reset();
    std::lock_guard lock(m.mutex);
    m.dropped += m.queue.size();  // only non-empty when the sender could not even be cancelled
    m.queue.clear();
    return m.drained;
}

OtlpHttpExporter::Stats OtlpHttpExporter::stats() const {
    const Impl& m = *impl_;
    return Stats{m.submitted.load(), m.exported.load(), m.failed.load(), m.dropped.load(), m.posts.load()};
}

}  // namespace alloy
