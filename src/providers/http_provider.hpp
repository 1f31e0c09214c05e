// A Provider that speaks one wire format (an Adapter) over the HTTP client, with transport retries.
// Internal header.
#pragma once

#include "http/client.hpp"
#include "providers/adapter.hpp"

#include <alloy/config.hpp>
#include <alloy/errors.hpp>
#include <alloy/provider.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>

namespace alloy::providers {

/// Called before each transport retry: `attempt` is the retry number (1 for the first retry), `delay`
/// the wait before it, `diag` the failure being retried. Must not throw.
using RetryObserver = std::function<void(int attempt, std::chrono::milliseconds delay, const Diagnostics& diag)>;

/// Transport behaviour of an HttpProvider.
struct HttpProviderOptions {
    ResolvedSettings::Http http;                           ///< timeouts, size limit, TLS, request_retries
    std::chrono::milliseconds backoff_initial{500};        ///< first retry delay bound
    std::chrono::milliseconds backoff_max{8000};           ///< retry delay cap
    std::chrono::milliseconds retry_after_max{60000};      ///< cap on server-directed delays
    RetryObserver on_retry;                                ///< optional hook, e.g. for events and metrics
    std::uint64_t seed = 0;                                ///< jitter seed; 0 = seeded from the OS
};

namespace detail {
struct HttpProviderState;  // adapter, client, options and jitter source shared with in-flight operations
}

/// Sends requests with an Adapter through an http::Client.
///
/// complete(): sends, and maps a 2xx body to a ModelReply; a non-2xx status throws
/// CommandError(provider_status) whose message reads "<provider> returned HTTP <status> <type>: <message>".
/// stream(): opens the response, checks the status like complete(), then decodes body chunks as the
/// consumer pulls next(). Retryable failures (connection errors and timeouts before the response, and
/// statuses the classifier accepts) are retried up to `http.request_retries` times after a jittered,
/// cancellable backoff that honours retry-after; a stream is never retried once it has been returned.
/// Safe to use from several coroutines and threads at once.
class HttpProvider final : public Provider {
public:
    HttpProvider(std::unique_ptr<Adapter> adapter, std::shared_ptr<http::Client> client, HttpProviderOptions options);

    std::string_view name() const noexcept override;
    ProviderCapabilities capabilities() const noexcept override;
    boost::asio::awaitable<ModelReply> complete(const ModelRequest& request) override;
    boost::asio::awaitable<std::unique_ptr<ReplyStream>> stream(const ModelRequest& request) override;

private:
    std::shared_ptr<detail::HttpProviderState> shared_;
};

/// The CommandError for a non-2xx response, e.g. "anthropic returned HTTP 429 rate_limit_error: ...".
CommandError status_error(const Diagnostics& diag);

}  // namespace alloy::providers
