// Establishing connections: resolve, TCP connect, proxy CONNECT tunnel, TLS handshake.
#include "http/connection.hpp"

#include <alloy/errors.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>

#include <atomic>
#include <cerrno>

#include <sys/socket.h>

namespace alloy::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

std::shared_ptr<ssl::context> TlsContextCache::get(const std::string& ca_file, bool insecure) {
    std::lock_guard lock(mutex_);
    auto& slot = contexts_[{ca_file, insecure}];
    if (slot) return slot;
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
    if (insecure) {
        context->set_verify_mode(ssl::verify_none);
    } else {
        context->set_verify_mode(ssl::verify_peer);
        boost::system::error_code ec;
        context->set_default_verify_paths(ec);  // a missing system store leaves only ca_file
        if (!ca_file.empty()) {
            context->load_verify_file(ca_file, ec);
            if (ec) throw ConfigurationError("cannot load the CA file '" + ca_file + "': " + ec.message());
        }
    }
    slot = std::move(context);
    return slot;
}

Endpoint make_endpoint(const Url& url, const ProxyConfig& proxy, TlsContextCache& tls_contexts,
                       const ResolvedSettings::Http& settings) {
    Endpoint endpoint;
    endpoint.url = url;
    endpoint.url_authority = url.authority();
    endpoint.proxy = proxy_for(proxy, url.scheme, url.host, url.port);
    if (url.tls()) {
        endpoint.tls_context = tls_contexts.get(settings.ca_file, settings.insecure_skip_tls_verify);
        endpoint.verify_peer = !settings.insecure_skip_tls_verify;
    }
    return endpoint;
}

void Connection::close() noexcept {
    if (!plain && !tls) return;
    boost::system::error_code ec;
    auto& socket = tcp().socket();
    if (socket.is_open()) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
    }
}

void Connection::release_io() noexcept {
    close();
    tls.reset();
    plain.reset();
}

bool Connection::idle_and_open() noexcept {
    if (!plain && !tls) return false;
    auto& socket = tcp().socket();
    if (!socket.is_open() || buffer.size() != 0) return false;
    char byte = 0;
    const auto received = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    // 0: the peer closed; > 0: unsolicited bytes (e.g. a TLS alert) make the state unknown.
    return received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

namespace {

bool is_cancelled(const asio::cancellation_state& state) {
    return state.cancelled() != asio::cancellation_type::none;
}

[[noreturn]] void fail(ErrorKind kind, const std::string& authority, const char* phase, std::string what,
                       bool retryable) {
    Diagnostics diagnostics;
    diagnostics.phase = phase;
    diagnostics.retryable = retryable;
    diagnostics.message = std::move(what);
    throw CommandError(kind, "HTTP connection to " + authority + " failed in phase " + phase + ": " +
                                 diagnostics.message,
                       diagnostics);
}

/// Maps an error of a connection phase to a CommandError. Everything before a response is retryable
/// except verification failures and a name that does not exist.
[[noreturn]] void fail_io(const boost::system::error_code& ec, bool cancelled, const std::string& authority,
                          const char* phase, std::chrono::milliseconds limit, bool retryable) {
    if (cancelled || ec == asio::error::operation_aborted) fail(ErrorKind::cancelled, authority, phase, "cancelled", false);
    if (ec == beast::error::timeout)
        fail(ErrorKind::timeout, authority, phase, "timed out after " + std::to_string(limit.count()) + " ms", true);
    fail(ErrorKind::connection, authority, phase, ec.message(), retryable);
}

asio::awaitable<tcp::resolver::results_type> resolve(std::string host, std::uint16_t port,
                                                     std::chrono::milliseconds timeout) {
    auto executor = co_await asio::this_coro::executor;
    // The resolver has no timer of its own: a timer cancels it. Both are shared with the handler.
    auto resolver = std::make_shared<tcp::resolver>(executor);
    auto timed_out = std::make_shared<std::atomic<bool>>(false);
    auto timer = std::make_shared<asio::steady_timer>(executor, timeout);
    timer->async_wait([resolver, timed_out](boost::system::error_code ec) {
        if (ec) return;
        *timed_out = true;
        resolver->cancel();
    });
    boost::system::error_code ec;
    tcp::resolver::results_type results = co_await resolver->async_resolve(
        host, std::to_string(port), asio::redirect_error(asio::use_awaitable, ec));
    timer->cancel();
    const std::string authority = host + ":" + std::to_string(port);
    if (*timed_out) ec = beast::error::timeout;
    if (ec) {
        asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        fail_io(ec, is_cancelled(state), authority, "resolve", timeout,
                ec != asio::error::host_not_found && ec != asio::error::host_not_found_try_again);
    }
    co_return results;
}

/// Opens a CONNECT tunnel to the origin through an already connected proxy.
asio::awaitable<void> open_tunnel(beast::tcp_stream& stream, Endpoint endpoint, ResolvedSettings::Http settings) {
    const std::string target = endpoint.url.authority();
    bhttp::request<bhttp::empty_body> request{bhttp::verb::connect, target, 11};
    request.set(bhttp::field::host, target);
    if (!endpoint.proxy->authorization.empty())
        request.set(bhttp::field::proxy_authorization, endpoint.proxy->authorization);
    const std::string proxy_authority = (endpoint.proxy->ipv6 ? "[" + endpoint.proxy->host + "]"
                                                              : endpoint.proxy->host) +
                                        ":" + std::to_string(endpoint.proxy->port);
    const std::string where = target + " via proxy " + proxy_authority;
    boost::system::error_code ec;
    stream.expires_after(settings.connect_timeout);
    const std::size_t written = co_await bhttp::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
    (void)written;
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.skip(true);  // a 2xx answer to CONNECT has no body: the tunnel starts right after
    beast::flat_buffer buffer;
    if (!ec) {
        const std::size_t read = co_await bhttp::async_read_header(stream, buffer, parser,
                                                                   asio::redirect_error(asio::use_awaitable, ec));
        (void)read;
    }
    if (ec) {
        asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        fail_io(ec, is_cancelled(state), where, "proxy", settings.connect_timeout, true);
    }
    const unsigned status = parser.get().result_int();
    if (status / 100 != 2)
        fail(ErrorKind::connection, where, "proxy", "the proxy refused CONNECT with status " + std::to_string(status),
             status == 502 || status == 503 || status == 504);
    if (buffer.size() != 0) fail(ErrorKind::connection, where, "proxy", "unexpected bytes after the CONNECT answer", false);
}

}  // namespace

namespace {

/// "host:port" of the origin, and of the proxy when there is one: names the peer in errors.
std::string connect_authority(const Endpoint& endpoint) {
    if (!endpoint.proxy) return endpoint.url_authority;
    return endpoint.url_authority + " via proxy " + endpoint.proxy->host + ":" + std::to_string(endpoint.proxy->port);
}

/// The TCP connection to the origin or the proxy: resolution (skipped for an IP address) and connect.
asio::awaitable<std::unique_ptr<beast::tcp_stream>> connect_tcp(const Endpoint& endpoint,
                                                                const ResolvedSettings::Http& settings) {
    const bool via_proxy = endpoint.proxy.has_value();
    const std::string& host = via_proxy ? endpoint.proxy->host : endpoint.url.host;
    const std::uint16_t port = via_proxy ? endpoint.proxy->port : endpoint.url.port;
    auto stream = std::make_unique<beast::tcp_stream>(co_await asio::this_coro::executor);
    boost::system::error_code ec;
    const asio::ip::address literal = asio::ip::make_address(host, ec);
    if (!ec) {
        stream->expires_after(settings.connect_timeout);
        co_await stream->async_connect(tcp::endpoint(literal, port), asio::redirect_error(asio::use_awaitable, ec));
    } else {
        ec = {};
        tcp::resolver::results_type addresses = co_await resolve(host, port, settings.resolve_timeout);
        stream->expires_after(settings.connect_timeout);
        const tcp::endpoint connected =
            co_await stream->async_connect(addresses, asio::redirect_error(asio::use_awaitable, ec));
        (void)connected;
    }
    if (ec) {
        asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        fail_io(ec, is_cancelled(state), connect_authority(endpoint), "connect", settings.connect_timeout, true);
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    co_return stream;
}

/// A plain HTTP connection. Its frame is small: thousands of connects may be in progress at once.
asio::awaitable<std::unique_ptr<Connection>> connect_plain(const Endpoint& endpoint,
                                                           const ResolvedSettings::Http& settings) {
    auto connection = std::make_unique<Connection>();
    connection->plain = co_await connect_tcp(endpoint, settings);
    connection->plain->expires_never();
    co_return connection;
}

/// An HTTPS connection: TCP, the CONNECT tunnel through a proxy, then the TLS handshake.
asio::awaitable<std::unique_ptr<Connection>> connect_tls(const Endpoint& endpoint,
                                                         const ResolvedSettings::Http& settings) {
    std::unique_ptr<beast::tcp_stream> stream = co_await connect_tcp(endpoint, settings);
    if (endpoint.proxy) co_await open_tunnel(*stream, endpoint, settings);

    auto connection = std::make_unique<Connection>();
    connection->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *endpoint.tls_context);
    auto& tls = *connection->tls;
    const std::string authority = connect_authority(endpoint);
    // SNI carries names only, never IP addresses (RFC 6066).
    boost::system::error_code address_ec;
    asio::ip::make_address(endpoint.url.host, address_ec);
    if (address_ec && !SSL_set_tlsext_host_name(tls.native_handle(), endpoint.url.host.c_str()))
        fail(ErrorKind::connection, authority, "tls_handshake", "cannot set the TLS server name", false);
    if (endpoint.verify_peer) {
        tls.set_verify_mode(ssl::verify_peer);
        tls.set_verify_callback(ssl::host_name_verification(endpoint.url.host));
    } else {
        tls.set_verify_mode(ssl::verify_none);
    }
    boost::system::error_code ec;
    connection->tcp().expires_after(settings.tls_timeout);
    co_await tls.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        connection->close();
        // Verification failures are permanent; a reset during the handshake may be transient.
        const bool verification = ec.category() == asio::error::get_ssl_category();
        fail_io(ec, is_cancelled(state), authority, "tls_handshake", settings.tls_timeout, !verification);
    }
    connection->tcp().expires_never();
    co_return connection;
}

}  // namespace

asio::awaitable<std::unique_ptr<Connection>> connect(const Endpoint& endpoint, const ResolvedSettings::Http& settings) {
    if (endpoint.url.tls()) return connect_tls(endpoint, settings);
    return connect_plain(endpoint, settings);
}

}  // namespace alloy::http
