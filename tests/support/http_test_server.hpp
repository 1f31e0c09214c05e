// A small scriptable HTTP/1.1 server (plain or TLS) and a CONNECT proxy on 127.0.0.1 for transport
// tests. Each runs its own io_context on its own thread, so the test's io_context only holds the
// client's work (and runs out of it when the client is done).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace alloy::test {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

/// What the server received.
struct ReceivedRequest {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    int connection_index = 0;  // 1-based index of the TCP connection it arrived on
};

/// How the server answers one request.
struct Reply {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<std::string> body;  // pieces: chunks when chunked, else concatenated
    bool chunked = false;
    std::chrono::milliseconds delay_before_headers{0};
    std::chrono::milliseconds delay_between_pieces{0};
    bool close_without_response = false;  // close the connection instead of answering
    bool connection_close = false;        // send "Connection: close" and close after the response
    bool close_silently_after = false;    // close after the response without announcing it
    std::optional<std::size_t> truncate_body_at;  // send only this many body bytes, then close
    std::string raw;                      // when set: sent verbatim instead of a response, then close
};

using Script = std::function<Reply(const ReceivedRequest&)>;

class HttpTestServer {
public:
    /// A plain server; pass `tls` (a server context) for HTTPS.
    explicit HttpTestServer(Script script, std::shared_ptr<net::ssl::context> tls = nullptr)
        : script_(std::move(script)), tls_(std::move(tls)), acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
        port_ = acceptor_.local_endpoint().port();
        net::co_spawn(io_, accept_loop(), net::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~HttpTestServer() {
        io_.stop();
        thread_.join();
    }
    HttpTestServer(const HttpTestServer&) = delete;
    HttpTestServer& operator=(const HttpTestServer&) = delete;

    unsigned short port() const { return port_; }
    std::string url(const std::string& path = "/") const {
        return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
    }
    int connections_accepted() const { return accepted_.load(); }
    /// Connections on which the server saw the client close (EOF or reset) while it waited.
    int connections_closed_by_peer() const { return closed_by_peer_.load(); }
    std::vector<ReceivedRequest> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
            if (ec) co_return;
            const int index = ++accepted_;
            if (tls_) {
                auto stream = std::make_shared<net::ssl::stream<net::ip::tcp::socket>>(std::move(socket), *tls_);
                net::co_spawn(io_, serve_tls(stream, index), net::detached);
            } else {
                auto stream = std::make_shared<net::ip::tcp::socket>(std::move(socket));
                net::co_spawn(io_, serve(stream, index), net::detached);
            }
        }
    }

    net::awaitable<void> serve_tls(std::shared_ptr<net::ssl::stream<net::ip::tcp::socket>> stream, int index) {
        auto [ec] = co_await stream->async_handshake(net::ssl::stream_base::server, net::as_tuple(net::use_awaitable));
        if (ec) co_return;
        co_await serve(stream, index);
    }

    /// Waits `delay`, noticing meanwhile if the client closes the connection. Returns false then.
    net::awaitable<bool> pause(net::ip::tcp::socket& socket, std::chrono::milliseconds delay) {
        using namespace net::experimental::awaitable_operators;
        net::steady_timer timer(io_, delay);
        char byte = 0;
        auto result = co_await (timer.async_wait(net::as_tuple(net::use_awaitable)) ||
                                socket.async_read_some(net::buffer(&byte, 1), net::as_tuple(net::use_awaitable)));
        if (result.index() == 1) {
            ++closed_by_peer_;
            co_return false;
        }
        co_return true;
    }
    template <class Stream>
    net::awaitable<bool> pause(Stream&, std::chrono::milliseconds delay) {
        net::steady_timer timer(io_, delay);
        co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        co_return true;
    }

    template <class Stream>
    static net::ip::tcp::socket& lowest(Stream& stream) {
        if constexpr (std::is_same_v<Stream, net::ip::tcp::socket>)
            return stream;
        else
            return stream.next_layer();
    }

    template <class Stream>
    net::awaitable<void> serve(std::shared_ptr<Stream> stream, int index) {
        boost::beast::flat_buffer buffer;
        for (;;) {
            bhttp::request_parser<bhttp::string_body> parser;
            parser.body_limit(64u << 20);
            auto [ec, n] = co_await bhttp::async_read(*stream, buffer, parser, net::as_tuple(net::use_awaitable));
            (void)n;
            if (ec) {
                if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset)
                    ++closed_by_peer_;
                co_return;
            }
            ReceivedRequest received;
            const auto& message = parser.get();
            received.method = std::string(message.method_string());
            received.target = std::string(message.target());
            for (const auto& field : message) {
                std::string name(field.name_string());
                for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                received.headers[name] = std::string(field.value());
            }
            received.body = message.body();
            received.connection_index = index;
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(received);
            }
            const Reply reply = script_(received);
            const bool keep_going = co_await answer(*stream, reply);
            if (!keep_going) {
                boost::system::error_code ignored;
                lowest(*stream).shutdown(net::ip::tcp::socket::shutdown_both, ignored);
                lowest(*stream).close(ignored);
                co_return;
            }
        }
    }

    /// Sends one reply. Returns false when the connection is to be closed afterwards.
    template <class Stream>
    net::awaitable<bool> answer(Stream& stream, const Reply& reply) {
        if (reply.delay_before_headers.count() > 0) {
            const bool open = co_await pause(stream, reply.delay_before_headers);
            if (!open) co_return false;
        }
        if (reply.close_without_response) co_return false;
        if (!reply.raw.empty()) {
            co_await send(stream, reply.raw);
            co_return false;
        }
        std::string body;
        for (const auto& piece : reply.body) body += piece;
        std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " Status\r\n";
        for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
        if (reply.chunked)
            head += "Transfer-Encoding: chunked\r\n";
        else
            head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        if (reply.connection_close) head += "Connection: close\r\n";
        head += "\r\n";
        const bool head_sent = co_await send(stream, head);
        if (!head_sent) co_return false;

        std::size_t sent = 0;
        for (std::size_t i = 0; i < reply.body.size(); ++i) {
            if (i > 0 && reply.delay_between_pieces.count() > 0) {
                const bool open = co_await pause(stream, reply.delay_between_pieces);
                if (!open) co_return false;
            }
            std::string piece = reply.body[i];
            bool truncated = false;
            if (reply.truncate_body_at && sent + piece.size() >= *reply.truncate_body_at) {
                piece.resize(*reply.truncate_body_at - sent);
                truncated = true;
            }
            sent += piece.size();
            std::string wire = piece;
            if (reply.chunked) {
                char size[32];
                std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
                wire = piece.empty() ? std::string() : std::string(size) + piece + "\r\n";
            }
            if (!wire.empty()) {
                const bool piece_sent = co_await send(stream, wire);
                if (!piece_sent) co_return false;
            }
            if (truncated) co_return false;
        }
        if (reply.chunked) {
            const bool end_sent = co_await send(stream, std::string("0\r\n\r\n"));
            if (!end_sent) co_return false;
        }
        co_return !reply.connection_close && !reply.close_silently_after;
    }

    template <class Stream>
    net::awaitable<bool> send(Stream& stream, std::string bytes) {
        auto [ec, n] = co_await net::async_write(stream, net::buffer(bytes), net::as_tuple(net::use_awaitable));
        (void)n;
        if (ec) ++closed_by_peer_;
        co_return !ec;
    }

    Script script_;
    std::shared_ptr<net::ssl::context> tls_;
    net::io_context io_;
    net::ip::tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    std::thread thread_;
    std::atomic<int> accepted_{0};
    std::atomic<int> closed_by_peer_{0};
    mutable std::mutex mutex_;
    std::vector<ReceivedRequest> requests_;
};

/// A forward proxy: CONNECT tunnels to any loopback port; other requests (absolute-form) are answered
/// directly with 200 and the body "proxied <target>". Records what it saw.
class TestProxy {
public:
    TestProxy() : acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
        port_ = acceptor_.local_endpoint().port();
        net::co_spawn(io_, accept_loop(), net::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~TestProxy() {
        io_.stop();
        thread_.join();
    }
    TestProxy(const TestProxy&) = delete;
    TestProxy& operator=(const TestProxy&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    unsigned short port() const { return port_; }
    /// "METHOD target" of each request, and the Proxy-Authorization values seen.
    std::vector<std::string> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    std::vector<std::string> authorizations() const {
        std::lock_guard lock(mutex_);
        return authorizations_;
    }

private:
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
            if (ec) co_return;
            net::co_spawn(io_, serve(std::make_shared<net::ip::tcp::socket>(std::move(socket))), net::detached);
        }
    }

    net::awaitable<void> serve(std::shared_ptr<net::ip::tcp::socket> client) {
        boost::beast::flat_buffer buffer;
        bhttp::request_parser<bhttp::string_body> parser;
        auto [ec, n] = co_await bhttp::async_read(*client, buffer, parser, net::as_tuple(net::use_awaitable));
        (void)n;
        if (ec) co_return;
        const auto& request = parser.get();
        {
            std::lock_guard lock(mutex_);
            seen_.push_back(std::string(request.method_string()) + " " + std::string(request.target()));
            if (auto it = request.find(bhttp::field::proxy_authorization); it != request.end())
                authorizations_.push_back(std::string(it->value()));
        }
        if (request.method() != bhttp::verb::connect) {
            const std::string body = "proxied " + std::string(request.target());
            std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                                "\r\nConnection: close\r\n\r\n" + body;
            co_await net::async_write(*client, net::buffer(reply), net::as_tuple(net::use_awaitable));
            co_return;
        }
        const std::string target(request.target());
        const auto colon = target.rfind(':');
        auto upstream = std::make_shared<net::ip::tcp::socket>(io_);
        auto [connect_ec] = co_await upstream->async_connect(
            {net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(target.substr(colon + 1)))},
            net::as_tuple(net::use_awaitable));
        const std::string answer = connect_ec ? "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
                                              : "HTTP/1.1 200 Connection established\r\n\r\n";
        co_await net::async_write(*client, net::buffer(answer), net::as_tuple(net::use_awaitable));
        if (connect_ec) co_return;
        net::co_spawn(io_, pipe(client, upstream), net::detached);
        net::co_spawn(io_, pipe(upstream, client), net::detached);
    }

    static net::awaitable<void> pipe(std::shared_ptr<net::ip::tcp::socket> from,
                                     std::shared_ptr<net::ip::tcp::socket> to) {
        char data[8192];
        for (;;) {
            auto [ec, n] = co_await from->async_read_some(net::buffer(data), net::as_tuple(net::use_awaitable));
            if (ec) break;
            auto [write_ec, written] = co_await net::async_write(*to, net::buffer(data, n), net::as_tuple(net::use_awaitable));
            (void)written;
            if (write_ec) break;
        }
        boost::system::error_code ignored;
        to->shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    }

    net::io_context io_;
    net::ip::tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<std::string> seen_;
    std::vector<std::string> authorizations_;
};

}  // namespace alloy::test
