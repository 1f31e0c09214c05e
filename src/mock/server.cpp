// The mock server's I/O shell: accept loop and one coroutine per connection that reads requests,
// asks the router for a plan and executes it (delays on async timers, chunked streams, cuts).
#include "alloy/mock/server.hpp"

#include "alloy/mock/test_pki.hpp"
#include "mock/router.hpp"
#include "mock/state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <thread>

namespace alloy::mock {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t max_body_bytes = 64ull * 1024 * 1024;

// Keeps open_connections true for the lifetime of a connection coroutine (also when it is destroyed
// unfinished at shutdown).
struct ConnectionGuard {
    explicit ConnectionGuard(detail::ServerState& s) : state(s) { state.open_connections.fetch_add(1); }
    ~ConnectionGuard() { state.open_connections.fetch_sub(1); }
    ConnectionGuard(const ConnectionGuard&) = delete;
    ConnectionGuard& operator=(const ConnectionGuard&) = delete;
    detail::ServerState& state;
};

void append_chunk(std::string& out, std::string_view data) {
    char size[20];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    out.append(size, static_cast<std::size_t>(n));
    out.append(data);
    out.append("\r\n");
}

asio::awaitable<void> wait_for(asio::steady_timer& timer, std::chrono::milliseconds d) {
    if (d.count() <= 0) co_return;
    timer.expires_after(d);
    auto [ec] = co_await timer.async_wait(use_tuple);
    (void)ec;
}

template <class Stream>
void close_stream(Stream& stream) {
    beast::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream).socket().close(ec);
}

// Executes a streaming plan. Returns false when the connection must be closed afterwards.
template <class Stream>
asio::awaitable<bool> write_stream(Stream& stream, asio::steady_timer& timer, detail::Plan& plan, unsigned version,
                                   bool keep_alive) {
    http::response<http::empty_body> res{static_cast<http::status>(plan.status), version};
    res.set(http::field::content_type, plan.content_type);
    res.set(http::field::cache_control, "no-cache");
    for (const auto& [k, v] : plan.headers) res.set(k, v);
    res.chunked(true);
    res.keep_alive(keep_alive);
    http::response_serializer<http::empty_body> sr{res};
    auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple);
    if (ec) co_return false;

    if (plan.truncate_body) {
        // Claim the whole stream in one chunk, send half of it, then cut the connection.
        std::string all;
        for (const auto& e : plan.events) all += e;
        std::string out;
        char size[20];
        const int len = std::snprintf(size, sizeof size, "%zx\r\n", all.size());
        out.append(size, static_cast<std::size_t>(len));
        out.append(all, 0, all.size() / 2);
        co_await asio::async_write(stream, asio::buffer(out), use_tuple);
        co_return false;
    }

    const std::size_t limit = plan.truncate_after.value_or(plan.events.size());
    const bool paced = plan.delay_between_chunks.count() > 0;
    if (!paced) {
        // One write for the whole body: cheap, and still framed as one chunk per event.
        std::string out;
        std::size_t total = 0;
        for (const auto& e : plan.events) total += e.size() + 16;
        out.reserve(total + 8);
        for (std::size_t i = 0; i < plan.events.size() && i < limit; ++i) append_chunk(out, plan.events[i]);
        if (limit >= plan.events.size()) out.append("0\r\n\r\n");
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out), use_tuple);
        co_return !wec && limit >= plan.events.size();
    }
    std::string out;
    for (std::size_t i = 0; i < plan.events.size(); ++i) {
        if (i >= limit) co_return false;
        if (i > 0) co_await wait_for(timer, plan.delay_between_chunks);
        out.clear();
        append_chunk(out, plan.events[i]);
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out), use_tuple);
        if (wec) co_return false;
    }
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer("0\r\n\r\n", 5), use_tuple);
    co_return !wec;
}

// Executes a plan with a fixed-length body. Returns false when the connection must be closed.
template <class Stream>
asio::awaitable<bool> write_body(Stream& stream, detail::Plan& plan, unsigned version, bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(plan.status), version};
    res.set(http::field::content_type, plan.content_type);
    for (const auto& [k, v] : plan.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = std::move(plan.body);
    res.prepare_payload();
    if (plan.truncate_body) {
        http::response_serializer<http::string_body> sr{res};
        auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple);
        if (!ec) {
            const auto& b = res.body();
            co_await asio::async_write(stream, asio::buffer(b.data(), b.size() / 2), use_tuple);
        }
        co_return false;
    }
    auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
    co_return !ec && keep_alive;
}

template <class Stream>
asio::awaitable<void> serve_connection(std::shared_ptr<detail::ServerState> state, Stream stream) {
    ConnectionGuard guard(*state);
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        // TLS: a bounded handshake, then no timeout (idle keep-alive connections are the client's call).
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
        auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
        beast::get_lowest_layer(stream).expires_never();
        if (hec) {
            close_stream(stream);
            co_return;
        }
    }
    beast::flat_buffer buffer;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_body_bytes);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (ec) break;  // end of stream, reset, or a request we cannot parse
        const auto& req = parser.get();
        detail::Plan plan;
        try {
            plan = detail::handle_request(*state, req);
        } catch (const std::exception& e) {
            plan = {};
            plan.status = 500;
            plan.body = std::string("{\"error\":{\"message\":\"mock server failure\",\"type\":\"server_error\"}}");
        }
        co_await wait_for(timer, plan.delay_before_headers);
        if (plan.drop) break;
        const bool keep_alive = req.keep_alive();
        bool keep = false;
        if (plan.streaming) keep = co_await write_stream(stream, timer, plan, req.version(), keep_alive);
        else keep = co_await write_body(stream, plan, req.version(), keep_alive);
        if (!keep || !keep_alive) break;
    }
    close_stream(stream);
}

asio::awaitable<void> accept_loop(std::shared_ptr<detail::ServerState> state, tcp::acceptor& acceptor,
                                  asio::ssl::context* tls) {
    asio::steady_timer backoff(co_await asio::this_coro::executor);
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            // Out of descriptors or a transient failure: back off briefly instead of spinning.
            co_await wait_for(backoff, std::chrono::milliseconds(10));
            continue;
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        state->connections_accepted.fetch_add(1, std::memory_order_relaxed);
        auto executor = socket.get_executor();
        if (tls) {
            asio::co_spawn(executor,
                           serve_connection(state, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *tls)),
                           asio::detached);
        } else {
            asio::co_spawn(executor, serve_connection(state, beast::tcp_stream(std::move(socket))), asio::detached);
        }
    }
}

}  // namespace

struct Server::Impl {
    explicit Impl(ServerOptions options)
        : state(std::make_shared<detail::ServerState>(std::move(options))),
          ioc(std::max(1, state->options.threads)),
          acceptor(ioc) {}

    std::shared_ptr<detail::ServerState> state;
    std::unique_ptr<asio::ssl::context> tls;  // TLS mode only; outlives every connection
    std::string ca_pem;
    asio::io_context ioc;
    tcp::acceptor acceptor;
    std::vector<std::thread> threads;
    std::string url_host;
    unsigned short port = 0;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    const auto& opts = impl_->state->options;
    asio::ip::address address;
    if (opts.host == "localhost") {
        address = asio::ip::make_address("127.0.0.1");
    } else {
        address = asio::ip::make_address(opts.host);  // throws on a malformed address
    }
    const tcp::endpoint endpoint(address, opts.port);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
    impl_->port = impl_->acceptor.local_endpoint().port();
    if (address.is_unspecified()) impl_->url_host = address.is_v6() ? "[::1]" : "127.0.0.1";
    else impl_->url_host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();

    if (opts.tls) {
        std::vector<std::string> ips{"127.0.0.1"};
        if (!address.is_unspecified() && address.to_string() != "127.0.0.1") ips.push_back(address.to_string());
        const TestPki pki = generate_test_pki({"localhost"}, ips);
        impl_->ca_pem = pki.ca_cert_pem;
        impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
        impl_->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                asio::ssl::context::no_tlsv1_1);
        impl_->tls->use_certificate_chain(asio::buffer(pki.server_cert_pem));
        impl_->tls->use_private_key(asio::buffer(pki.server_key_pem), asio::ssl::context::pem);
    }
    asio::co_spawn(impl_->ioc, accept_loop(impl_->state, impl_->acceptor, impl_->tls.get()), asio::detached);
    const int n = std::max(1, opts.threads);
    for (int i = 0; i < n; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

Server::~Server() {
    // Stop every thread, then let the io_context destroy the unfinished connection coroutines (which
    // closes their sockets).
    impl_->ioc.stop();
    for (auto& t : impl_->threads) t.join();
}

unsigned short Server::port() const { return impl_->port; }

std::string Server::base_url() const {
    return std::string(impl_->state->options.tls ? "https://" : "http://") + impl_->url_host + ":" +
           std::to_string(impl_->port);
}

std::string Server::ca_cert_pem() const { return impl_->ca_pem; }

void Server::push_fault(Fault fault) { impl_->state->push_fault(std::move(fault)); }
void Server::clear_faults() { impl_->state->clear_faults(); }
std::vector<RecordedRequest> Server::requests() const { return impl_->state->recorded(); }
Stats Server::stats() const { return impl_->state->stats(); }
void Server::reset() { impl_->state->reset(); }

}  // namespace alloy::mock
