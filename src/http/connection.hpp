// One HTTP connection (plain or TLS, direct or through a proxy) and how it is established.
// Internal header of the transport; includes Beast.
#pragma once

#include "http/proxy.hpp"
#include "http/url.hpp"

#include <alloy/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace alloy::http {

/// Caches OpenSSL client contexts per TLS options (building one loads the system CA store).
class TlsContextCache {
public:
    /// The context for (`ca_file`, `insecure`): verification on unless `insecure`, system CAs plus
    /// `ca_file` when non-empty. Throws alloy::ConfigurationError when `ca_file` cannot be loaded.
    std::shared_ptr<boost::asio::ssl::context> get(const std::string& ca_file, bool insecure);

private:
    std::mutex mutex_;
    std::map<std::pair<std::string, bool>, std::shared_ptr<boost::asio::ssl::context>> contexts_;
};

/// Where requests for one origin go and how: directly or through a proxy, with or without TLS.
struct Endpoint {
    Url url;                      ///< the origin (scheme, host, port); target unused
    std::string url_authority;    ///< "host:port" of the origin, for messages
    std::optional<ProxyEndpoint> proxy;
    std::shared_ptr<boost::asio::ssl::context> tls_context;  ///< set for https
    bool verify_peer = true;
};

/// Decides the route (proxy or not) and TLS context for `url`.
Endpoint make_endpoint(const Url& url, const ProxyConfig& proxy, TlsContextCache& tls_contexts,
                       const ResolvedSettings::Http& settings);

/// An open connection. Used on one executor at a time; not thread-safe.
struct Connection {
    std::unique_ptr<boost::beast::tcp_stream> plain;  ///< set for http
    std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;  ///< set for https
    boost::beast::flat_buffer buffer;  ///< bytes read past the last parsed message
    std::chrono::steady_clock::time_point idle_since;

    /// The TCP layer (timeouts, close).
    boost::beast::tcp_stream& tcp() noexcept { return tls ? tls->next_layer() : *plain; }
    /// Closes the socket at once (no TLS close_notify); idempotent, never throws.
    void close() noexcept;
    /// True when an idle connection is still open: the peer has not closed it and sent nothing.
    bool idle_and_open() noexcept;
    /// Closes and destroys the socket, timer and TLS state (all bound to their execution context);
    /// afterwards close() does nothing. Used when that context shuts down while this connection is
    /// still referenced elsewhere.
    void release_io() noexcept;
};

/// Resolves, connects (through the proxy with CONNECT for https), and performs the TLS handshake, each
/// phase bounded by its timeout. Throws alloy::CommandError (phase resolve / connect / proxy /
/// tls_handshake; kind connection, timeout or cancelled). A host that is an IP address is connected
/// to directly, without the resolver. `endpoint` and `settings` must outlive the operation (the pool
/// and the request that connect own them): with thousands of connects at once, copies in every frame
/// add up.
boost::asio::awaitable<std::unique_ptr<Connection>> connect(const Endpoint& endpoint,
                                                            const ResolvedSettings::Http& settings);

}  // namespace alloy::http
