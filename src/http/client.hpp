// HTTP/1.1 client used by the provider adapters (internal header).
//
// Beast underneath, but this header keeps Beast out: callers see plain strings and a pull-based body.
#pragma once

#include "http/proxy.hpp"

#include <alloy/config.hpp>
#include <alloy/errors.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace alloy::http {

/// Header list; names compared case-insensitively by find().
struct Headers {
    std::vector<std::pair<std::string, std::string>> items;
    void set(std::string name, std::string value);
    /// Value of the first header named `name` (case-insensitive), or std::nullopt.
    std::optional<std::string_view> find(std::string_view name) const;
};

/// One outgoing request. `url` is absolute (http:// or https://), query included.
struct Request {
    std::string method = "POST";
    std::string url;
    Headers headers;
    std::string body;
};

/// A complete response.
struct Response {
    int status = 0;
    Headers headers;
    std::string body;
};

/// A response whose headers have arrived and whose body is read incrementally.
/// Destroying it before the end of the body closes the connection (it is never returned to the pool);
/// reading it to the end returns the connection to the pool.
class ResponseStream {
public:
    virtual ~ResponseStream() = default;
    virtual int status() const noexcept = 0;
    virtual const Headers& headers() const noexcept = 0;
    /// The next piece of the body (decoded from chunked encoding), or std::nullopt at its end.
    /// Each read is bounded by the stream idle timeout (phase "stream_idle"); the total by
    /// max_response_bytes (kind response_too_large). A broken body throws kind connection, phase
    /// "read". After any failure or cancellation the connection is closed and the stream is finished.
    /// Call from the executor the stream was opened on, one read at a time.
    virtual boost::asio::awaitable<std::optional<std::string>> next_chunk() = 0;
    /// Reads the rest of the body (used for error bodies), bounded like next_chunk().
    virtual boost::asio::awaitable<std::string> read_rest() = 0;
};

/// Thread-safe HTTP client with keep-alive connection pools keyed by (executor, origin, TLS options).
///
/// Failures throw alloy::CommandError with kind connection / timeout / response_too_large / protocol /
/// cancelled and Diagnostics::phase naming the phase ("resolve", "connect", "tls_handshake", "proxy",
/// "write", "first_byte", "stream_idle", "read"). A connection that saw an error, a timeout or a
/// cancellation is closed, never reused. HTTP error statuses are NOT exceptions here: they are returned.
/// Proxies come from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (CONNECT tunnelling for https).
///
/// Contracts shared by send() and open():
/// - They run on the calling coroutine's executor; connections are pooled per executor and are only
///   ever used on it. Several executors and threads may share one Client.
/// - Per-operation cancellation (e.g. `co_await (client.send(...) || timer.async_wait(...))`) closes
///   the connection and throws CommandError(kind cancelled). The same holds for ResponseStream reads.
/// - A stale pooled connection (closed by the server while idle) that fails before any byte of the
///   response arrived is replaced by a fresh connection once, transparently. A connection idle for
///   a moment or longer is checked (a non-blocking peek) before reuse; one reused right away is not,
///   the retry covers it, and the retry checks every idle connection it considers.
/// - Lifetimes: pools belong to the execution context they are used on, not to the Client, so a
///   long-lived Client (e.g. the Runtime's) may serve many short-lived io_contexts. Destroying an
///   execution context closes and destroys every connection of it, idle or in use (its sockets
///   belong to it); a ResponseStream or request of that context still alive then only releases
///   its slot, and a later context never sees those pools even at the same address. Destroying the
///   Client closes its idle connections in the contexts still alive at once and its connections in
///   use when they end; a ResponseStream may outlive the Client. So the Client and the contexts
///   may be destroyed in either order.
/// - Resolution is bounded by resolve_timeout but, like getaddrinfo itself, not interruptible.
class Client {
public:
    /// Reads the proxy configuration from the process environment once, here.
    Client();
    /// Uses `proxy` instead of the environment (tests, embedding applications).
    explicit Client(ProxyConfig proxy);
    /// Retires this client's pools in the execution contexts still alive (idle connections closed).
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sends `request` on the calling coroutine's executor and reads the whole response.
    /// `settings` gives this request's timeouts, size limit and TLS options (pools are also keyed by
    /// the TLS options, so connections made with a custom CA are never used for other requests).
    /// `request` and `settings` are taken by reference and must stay alive until the operation
    /// completes: co_await the call directly (a temporary argument lives until then), or keep them in
    /// the frame of the coroutine that awaits it. Nothing of them is read after the operation completes.
    boost::asio::awaitable<Response> send(const Request& request, const ResolvedSettings::Http& settings);
    /// Sends `request` and returns once the response headers have arrived. The request line, Host,
    /// User-Agent (both overridable by request headers) and, when there is a body or the method is
    /// POST, PUT or OPTIONS, Content-Length are written by the client; Content-Length and
    /// Transfer-Encoding request headers are ignored (the client frames the body). Throws
    /// ConfigurationError for a malformed URL or proxy URL, an unreadable `ca_file`, a method or
    /// header name that is not an HTTP token, or a header value containing CR, LF or NUL (the
    /// message names the header, never its value). `request` must stay alive until the operation
    /// completes, as for send(); the returned stream does not refer to it.
    boost::asio::awaitable<std::unique_ptr<ResponseStream>> open(const Request& request,
                                                                  const ResolvedSettings::Http& settings);

    /// Counters for tests and benchmarks (over all pools of this Client).
    struct Stats {
        std::size_t connections_opened = 0;
        std::size_t connections_reused = 0;
    };
    Stats stats() const;

private:
    struct Impl;
    /// The one coroutine of send() (Whole) and open(): from the pool to the response head, then the
    /// whole body or a stream. One frame per request, not one per step.
    template <bool Whole>
    boost::asio::awaitable<std::conditional_t<Whole, Response, std::unique_ptr<ResponseStream>>> exchange(
        const Request& request, const ResolvedSettings::Http& settings);
    std::shared_ptr<Impl> impl_;
};

}  // namespace alloy::http
