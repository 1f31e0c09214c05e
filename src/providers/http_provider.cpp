#include "providers/http_provider.hpp"

#include "engine/retry_policy.hpp"
#include "http/sse.hpp"

#include <alloy/logging.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <exception>
#include <optional>

namespace alloy::providers {

namespace asio = boost::asio;

struct detail::HttpProviderState {
    std::unique_ptr<Adapter> adapter;
    std::shared_ptr<http::Client> client;
    HttpProviderOptions options;
    std::mutex rng_mutex;  // the provider is shared between coroutines on several threads
    std::mt19937_64 rng;

    std::chrono::milliseconds next_delay(int retry_index, const Diagnostics& diag) {
        std::lock_guard lock(rng_mutex);
        return retry::backoff_delay(retry_index, options.backoff_initial, options.backoff_max, diag.retry_after,
                                    options.retry_after_max, rng);
    }
};

namespace {

bool is_success(int status) { return status >= 200 && status < 300; }

// Connection errors and timeouts before the response started; the client marks them retryable.
bool transport_retryable(const CommandError& error) {
    return (error.kind() == ErrorKind::connection || error.kind() == ErrorKind::timeout) && error.retryable();
}

// Waits out the backoff before retry number `retry_index` (0-based) on a cancellable steady timer.
asio::awaitable<void> wait_before_retry(std::shared_ptr<detail::HttpProviderState> shared, int retry_index,
                                        Diagnostics diag, RetryObserver request_hook) {
    const auto delay = shared->next_delay(retry_index, diag);
    if (shared->options.on_retry) shared->options.on_retry(retry_index + 1, delay, diag);
    if (request_hook) request_hook(retry_index + 1, delay, diag);
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, delay);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) {
        diag.message = "cancelled while waiting to retry";
        throw CommandError(ErrorKind::cancelled, diag.provider + " request cancelled while waiting to retry",
                           std::move(diag));
    }
}

/// Body chunks -> decoder -> adapter state machine -> text deltas, pulled by the consumer.
class HttpReplyStream final : public ReplyStream {
public:
    HttpReplyStream(std::shared_ptr<detail::HttpProviderState> shared, std::unique_ptr<http::ResponseStream> body,
                    std::unique_ptr<StreamState> state)
        : shared_(std::move(shared)), body_(std::move(body)), state_(std::move(state)),
          framing_(shared_->adapter->framing()) {}

    asio::awaitable<std::optional<std::string>> next() override {
        // Deltas decoded before a failure are delivered first; the failure follows them.
        if (failure_ && pending_.empty()) std::rethrow_exception(failure_);
        while (pending_.empty() && !ended_ && !failure_) {
            std::optional<std::string> chunk;
            std::exception_ptr read_failure;
            try {
                chunk = co_await body_->next_chunk();
            } catch (const CommandError& e) {
                read_failure = std::make_exception_ptr(broken_stream(e));
            } catch (...) {
                read_failure = std::current_exception();
            }
            try {
                if (read_failure) std::rethrow_exception(read_failure);
                consume(chunk);
            } catch (...) {
                failure_ = std::current_exception();
                body_.reset();  // closes the connection
                if (pending_.empty()) throw;
            }
        }
        if (pending_.empty()) co_return std::nullopt;
        std::string delta = std::move(pending_.front());
        pending_.pop_front();
        co_return delta;
    }

    const ModelReply& final() const override { return reply_; }

private:
    // A body that breaks off mid-way is a broken stream; timeouts and cancellation keep their kind.
    CommandError broken_stream(const CommandError& e) const {
        if (e.kind() != ErrorKind::connection && e.kind() != ErrorKind::protocol) return e;
        Diagnostics diag = e.diagnostics();
        if (diag.provider.empty()) diag.provider = std::string(shared_->adapter->name());
        return CommandError(ErrorKind::stream,
                            std::string(shared_->adapter->name()) + " stream broke off: " + e.what(), std::move(diag));
    }

    void consume(const std::optional<std::string>& chunk) {
        std::vector<std::string> deltas;
        // Deltas of the events before a failing one (an error event, a malformed chunk) still count.
        const auto keep_deltas = [&] {
            for (auto& delta : deltas) {
                if (!delta.empty()) pending_.push_back(std::move(delta));
            }
        };
        try {
            if (framing_ == Framing::sse) {
                if (chunk) {
                    sse_.feed(*chunk, [&](const http::SseEvent& event) { state_->on_event(event.event, event.data, deltas); });
                } else if (auto event = sse_.finish()) {
                    state_->on_event(event->event, event->data, deltas);
                }
            } else {
                if (chunk) {
                    ndjson_.feed(*chunk, [&](std::string_view line) { state_->on_event({}, line, deltas); });
                } else if (auto line = ndjson_.finish()) {
                    state_->on_event({}, *line, deltas);
                }
            }
        } catch (...) {
            keep_deltas();
            throw;
        }
        keep_deltas();
        if (!chunk) {
            reply_ = state_->finish();
            ended_ = true;
        }
    }

    std::shared_ptr<detail::HttpProviderState> shared_;
    std::unique_ptr<http::ResponseStream> body_;
    std::unique_ptr<StreamState> state_;
    Framing framing_;
    http::SseDecoder sse_;
    http::NdjsonDecoder ndjson_;
    std::deque<std::string> pending_;
    ModelReply reply_;
    std::exception_ptr failure_;
    bool ended_ = false;
};

/// The reply of a successful response.
ModelReply take_reply(const Adapter& adapter, const http::Request& request, const http::Response& response) {
    ModelReply reply = adapter.parse_reply(response.headers, response.body);
    reply.http_status = response.status;
    reply.bytes_sent = request.body.size();
    reply.bytes_received = response.body.size();
    return reply;
}

/// Why a failed response may be retried; throws CommandError(provider_status) when it may not.
std::unique_ptr<Diagnostics> retryable_status(const Adapter& adapter, const http::Response& response, bool last) {
    Diagnostics diag = adapter.parse_error(response.status, response.headers, response.body);
    if (!diag.retryable || last) throw status_error(diag);
    return std::make_unique<Diagnostics>(std::move(diag));
}

// Keeps its frame small (it is alive for the whole request, in every in-flight command): the
// success and failure paths build their values in plain functions.
asio::awaitable<ModelReply> run_complete(std::shared_ptr<detail::HttpProviderState> shared, http::Request request,
                                         RetryObserver request_hook) {
    const int retries = std::max(shared->options.http.request_retries, 0);
    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Diagnostics> retry_diag;
        try {
            const http::Response response = co_await shared->client->send(request, shared->options.http);
            if (is_success(response.status)) co_return take_reply(*shared->adapter, request, response);
            retry_diag = retryable_status(*shared->adapter, response, attempt >= retries);
        } catch (const CommandError& e) {
            if (!transport_retryable(e) || attempt >= retries) throw;
            retry_diag = std::make_unique<Diagnostics>(e.diagnostics());
        }
        co_await wait_before_retry(shared, attempt, std::move(*retry_diag), request_hook);
    }
}

asio::awaitable<std::unique_ptr<ReplyStream>> run_stream(std::shared_ptr<detail::HttpProviderState> shared,
                                                         http::Request request, RetryObserver request_hook) {
    const int retries = std::max(shared->options.http.request_retries, 0);
    for (int attempt = 0;; ++attempt) {
        Diagnostics retry_diag;
        try {
            std::unique_ptr<http::ResponseStream> body = co_await shared->client->open(request, shared->options.http);
            if (is_success(body->status())) {
                auto state = shared->adapter->start_stream(body->headers());
                co_return std::make_unique<HttpReplyStream>(shared, std::move(body), std::move(state));
            }
            std::string text = co_await body->read_rest();
            Diagnostics diag = shared->adapter->parse_error(body->status(), body->headers(), text);
            if (!diag.retryable || attempt >= retries) throw status_error(diag);
            retry_diag = std::move(diag);
        } catch (const CommandError& e) {
            if (!transport_retryable(e) || attempt >= retries) throw;
            retry_diag = e.diagnostics();
        }
        co_await wait_before_retry(shared, attempt, std::move(retry_diag), request_hook);
    }
}

// Builds the wire request in the wanted form, copying the request only when its flag disagrees, and
// adds the request's own headers (trace context) after the adapter's.
http::Request build_wire(const Adapter& adapter, const ModelRequest& request, bool stream) {
    http::Request wire;
    if (request.stream == stream) {
        wire = adapter.build_request(request);
    } else {
        ModelRequest copy = request;
        copy.stream = stream;
        wire = adapter.build_request(copy);
    }
    for (const auto& [name, value] : request.headers) wire.headers.set(name, value);
    return wire;
}

}  // namespace

CommandError status_error(const Diagnostics& raw) {
    // Providers sometimes echo (part of) a rejected key in their message: never let one through.
    static const Redactor redactor;
    Diagnostics diag = raw;
    diag.message = redactor.mask_credentials(std::move(diag.message));
    std::string message = diag.provider + " returned HTTP " + std::to_string(diag.http_status);
    const std::string& label = !diag.error_type.empty() ? diag.error_type : diag.error_code;
    if (!label.empty()) message += " " + label;
    if (!diag.message.empty()) message += ": " + diag.message;
    return CommandError(ErrorKind::provider_status, message, diag);
}

HttpProvider::HttpProvider(std::unique_ptr<Adapter> adapter, std::shared_ptr<http::Client> client,
                           HttpProviderOptions options)
    : shared_(std::make_shared<detail::HttpProviderState>()) {
    shared_->adapter = std::move(adapter);
    shared_->client = std::move(client);
    shared_->rng.seed(options.seed != 0 ? options.seed : std::random_device{}());
    shared_->options = std::move(options);
}

std::string_view HttpProvider::name() const noexcept { return shared_->adapter->name(); }

ProviderCapabilities HttpProvider::capabilities() const noexcept { return shared_->adapter->capabilities(); }

// Both operations build the wire request before suspending, so `request` is not read afterwards.
// complete() is not a coroutine itself: the run's frame is the only one per request.
asio::awaitable<ModelReply> HttpProvider::complete(const ModelRequest& request) {
    return run_complete(shared_, build_wire(*shared_->adapter, request, false), request.on_retry);
}

asio::awaitable<std::unique_ptr<ReplyStream>> HttpProvider::stream(const ModelRequest& request) {
    http::Request wire = build_wire(*shared_->adapter, request, true);
    std::unique_ptr<ReplyStream> reply = co_await run_stream(shared_, std::move(wire), request.on_retry);
    co_return reply;
}

}  // namespace alloy::providers
