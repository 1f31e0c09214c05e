// The HTTP client against the loopback test server: pooling, timeouts, limits, TLS, proxies,
// cancellation and malformed responses.
#include "http/client.hpp"
#include "support/http_test_server.hpp"

#include <alloy/mock/test_pki.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <random>

namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using alloy::CommandError;
using alloy::ErrorKind;
using alloy::http::Client;
using alloy::http::Request;
using alloy::http::Response;
using alloy::http::ResponseStream;
using alloy::test::HttpTestServer;
using alloy::test::Reply;
using alloy::test::ReceivedRequest;
using Http = alloy::ResolvedSettings::Http;

/// Short timeouts so failures show quickly; tests lengthen what they need.
Http fast_settings() {
    Http settings;
    settings.resolve_timeout = 2s;
    settings.connect_timeout = 2s;
    settings.tls_timeout = 2s;
    settings.write_timeout = 2s;
    settings.first_byte_timeout = 3s;
    settings.stream_idle_timeout = 3s;
    return settings;
}

Request get(std::string url) {
    Request request;
    request.method = "GET";
    request.url = std::move(url);
    return request;
}

/// Runs `task` on `io` under a hard time limit and returns its result (or rethrows its exception).
template <class T>
T run(net::io_context& io, net::awaitable<T> task, std::chrono::milliseconds limit = 10s) {
    std::optional<T> result;
    std::exception_ptr error;
    bool done = false;
    net::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        done = true;
        error = e;
        if (!e) result.emplace(std::move(value));
    });
    io.run_for(limit);
    io.restart();
    REQUIRE(done);
    if (error) std::rethrow_exception(error);
    return std::move(*result);
}

/// Runs `task` and returns the CommandError it throws; fails the test if it throws nothing.
template <class T>
CommandError run_expecting_error(net::io_context& io, net::awaitable<T> task) {
    try {
        run(io, std::move(task));
    } catch (const CommandError& error) {
        return error;
    }
    FAIL("expected a CommandError");
    throw std::logic_error("unreachable");
}

net::awaitable<Response> send(Client& client, Request request, Http settings) {
    Response response = co_await client.send(std::move(request), settings);
    co_return response;
}

/// Opens a stream and reads `chunks` pieces (0 = all), returning what was read.
net::awaitable<std::string> read_pieces(Client& client, Request request, Http settings, int chunks) {
    std::unique_ptr<ResponseStream> stream = co_await client.open(std::move(request), settings);
    std::string text;
    for (int i = 0; chunks == 0 || i < chunks; ++i) {
        std::optional<std::string> chunk = co_await stream->next_chunk();
        if (!chunk) break;
        text += *chunk;
    }
    co_return text;
}

Reply text_reply(std::string body) {
    Reply reply;
    reply.body = {std::move(body)};
    return reply;
}

/// Waits (bounded) until `condition` holds; the servers run on their own threads.
template <class F>
bool eventually(F condition) {
    for (int i = 0; i < 200; ++i) {
        if (condition()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

std::string write_temp_file(const std::string& contents) {
    static std::mt19937_64 random{std::random_device{}()};
    const auto path = std::filesystem::temp_directory_path() / ("alloy-test-ca-" + std::to_string(random()) + ".pem");
    std::ofstream(path) << contents;
    return path.string();
}

std::shared_ptr<net::ssl::context> server_tls_context(const alloy::mock::TestPki& pki) {
    auto context = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
    context->use_certificate_chain(net::buffer(pki.server_cert_pem));
    context->use_private_key(net::buffer(pki.server_key_pem), net::ssl::context::pem);
    return context;
}

}  // namespace

TEST_CASE("send returns status, lower-cased headers and body; the server sees the request", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply = text_reply("hello");
        reply.status = 201;
        reply.headers = {{"X-Request-Id", "abc"}};
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Request request;
    request.url = server.url("/v1/things?q=1");
    request.headers.set("Content-Type", "application/json");
    request.body = R"({"a":1})";
    const Response response = run(io, send(client, request, fast_settings()));
    CHECK(response.status == 201);
    CHECK(response.body == "hello");
    REQUIRE(response.headers.find("x-request-id"));
    CHECK(*response.headers.find("X-REQUEST-ID") == "abc");
    CHECK(std::any_of(response.headers.items.begin(), response.headers.items.end(),
                      [](const auto& item) { return item.first == "x-request-id"; }));
    const auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "POST");
    CHECK(requests[0].target == "/v1/things?q=1");
    CHECK(requests[0].headers.at("host") == "127.0.0.1:" + std::to_string(server.port()));
    CHECK(requests[0].headers.at("content-type") == "application/json");
    CHECK(requests[0].body == R"({"a":1})");
}

TEST_CASE("request heads that could inject headers are refused; the client frames the body", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("ok"); });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    const auto refusal = [&](Request request) -> std::string {
        try {
            run(io, send(client, std::move(request), fast_settings()));
        } catch (const alloy::ConfigurationError& e) {
            return e.what();
        }
        return "accepted";
    };
    Request injected = get(server.url());
    injected.headers.set("X-Note", "secret-value\r\nX-Injected: 1");
    const std::string injected_message = refusal(injected);
    CHECK_THAT(injected_message, Catch::Contains("X-Note") && Catch::Contains("CR, LF or NUL"));
    CHECK_THAT(injected_message, !Catch::Contains("secret-value"));
    Request bad_name = get(server.url());
    bad_name.headers.set("Bad Name", "v");
    CHECK_THAT(refusal(bad_name), Catch::Contains("not an HTTP token"));
    Request bad_method = get(server.url());
    bad_method.method = "GET /x HTTP/1.1\r\n";
    CHECK_THAT(refusal(bad_method), Catch::Contains("invalid HTTP method"));
    CHECK(server.requests().empty());

    // A Content-Length header of the caller is replaced by the real one; a repeated name keeps its last value.
    Request framed;
    framed.url = server.url();
    framed.headers.set("Content-Length", "999");
    framed.headers.items.emplace_back("X-Twice", "first");
    framed.headers.items.emplace_back("x-twice", "second");
    framed.body = "abc";
    CHECK(run(io, send(client, framed, fast_settings())).body == "ok");
    const auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].headers.at("content-length") == "3");
    CHECK(requests[0].headers.at("x-twice") == "second");
    CHECK(requests[0].body == "abc");
}

TEST_CASE("sequential requests reuse one keep-alive connection", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("ok"); });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    for (int i = 0; i < 3; ++i) CHECK(run(io, send(client, get(server.url()), fast_settings())).body == "ok");
    CHECK(client.stats().connections_opened == 1);
    CHECK(client.stats().connections_reused == 2);
    CHECK(server.connections_accepted() == 1);
}

TEST_CASE("Connection: close from the server is honoured", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply = text_reply("bye");
        reply.connection_close = true;
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    CHECK(run(io, send(client, get(server.url()), fast_settings())).body == "bye");
    CHECK(run(io, send(client, get(server.url()), fast_settings())).body == "bye");
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().connections_reused == 0);
}

TEST_CASE("a stream destroyed before the end of its body is not reused", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.chunked = true;
        reply.body = {"first", "second", "third"};
        reply.delay_between_pieces = 20ms;
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    CHECK(run(io, read_pieces(client, get(server.url()), fast_settings(), 1)) == "first");
    CHECK(run(io, read_pieces(client, get(server.url()), fast_settings(), 0)) == "firstsecondthird");
    CHECK(client.stats().connections_opened == 2);
    // Read to the end, the second connection goes back to the pool.
    CHECK(run(io, read_pieces(client, get(server.url()), fast_settings(), 0)) == "firstsecondthird");
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().connections_reused == 1);
}

TEST_CASE("first_byte timeout is reported and the connection is not reused", "[http]") {
    HttpTestServer server([](const ReceivedRequest& request) {
        Reply reply = text_reply("late");
        if (request.target == "/slow") reply.delay_before_headers = 2s;
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Http settings = fast_settings();
    settings.first_byte_timeout = 100ms;
    const auto started = std::chrono::steady_clock::now();
    const CommandError error = run_expecting_error(io, send(client, get(server.url("/slow")), settings));
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
    CHECK(error.kind() == ErrorKind::timeout);
    CHECK(error.diagnostics().phase == "first_byte");
    CHECK(error.retryable());
    CHECK(std::string(error.what()).find("127.0.0.1:" + std::to_string(server.port())) != std::string::npos);
    CHECK(run(io, send(client, get(server.url("/fast")), settings)).body == "late");
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().connections_reused == 0);
}

TEST_CASE("stream_idle timeout between body chunks", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.chunked = true;
        reply.body = {"a", "b"};
        reply.delay_between_pieces = 2s;
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Http settings = fast_settings();
    settings.stream_idle_timeout = 100ms;
    const CommandError error = run_expecting_error(io, read_pieces(client, get(server.url()), settings, 0));
    CHECK(error.kind() == ErrorKind::timeout);
    CHECK(error.diagnostics().phase == "stream_idle");
    CHECK_FALSE(error.retryable());
}

TEST_CASE("a stale keep-alive connection is replaced transparently", "[http]") {
    SECTION("the server closed it while idle") {
        HttpTestServer server([](const ReceivedRequest&) {
            Reply reply = text_reply("ok");
            reply.close_silently_after = true;
            return reply;
        });
        net::io_context io;
        Client client(alloy::http::ProxyConfig{});
        CHECK(run(io, send(client, get(server.url()), fast_settings())).body == "ok");
        REQUIRE(eventually([&] { return server.requests().size() == 1; }));
        std::this_thread::sleep_for(50ms);  // let the FIN arrive
        CHECK(run(io, send(client, get(server.url()), fast_settings())).body == "ok");
        CHECK(server.connections_accepted() == 2);
    }
    SECTION("the server drops the next request on the reused connection") {
        std::atomic<int> count{0};
        HttpTestServer server([&](const ReceivedRequest&) {
            Reply reply = text_reply("ok");
            if (++count == 2) reply.close_without_response = true;
            return reply;
        });
        net::io_context io;
        Client client(alloy::http::ProxyConfig{});
        CHECK(run(io, send(client, get(server.url()), fast_settings())).body == "ok");
        CHECK(run(io, send(client, get(server.url()), fast_settings())).body == "ok");
        CHECK(client.stats().connections_opened == 2);
        CHECK(client.stats().connections_reused == 1);
        CHECK(server.requests().size() == 3);
    }
    SECTION("a fresh connection closed without a response is an error, not retried") {
        HttpTestServer server([](const ReceivedRequest&) {
            Reply reply;
            reply.close_without_response = true;
            return reply;
        });
        net::io_context io;
        Client client(alloy::http::ProxyConfig{});
        const CommandError error = run_expecting_error(io, send(client, get(server.url()), fast_settings()));
        CHECK(error.kind() == ErrorKind::connection);
        CHECK(error.diagnostics().phase == "first_byte");
        CHECK(error.retryable());
        CHECK(server.requests().size() == 1);
    }
}

namespace {

/// Waits (without blocking the io_context) until a future completed on it is ready.
net::awaitable<void> wait_ready(std::future<Response>& future) {
    auto executor = co_await net::this_coro::executor;
    net::steady_timer timer(executor);
    while (future.wait_for(0s) != std::future_status::ready) {
        timer.expires_after(5ms);
        co_await timer.async_wait(net::use_awaitable);
    }
}

/// Starts `count` requests at once and returns how many answered "ok".
net::awaitable<int> concurrent_sends(Client& client, std::string url, Http settings, int count) {
    auto executor = co_await net::this_coro::executor;
    std::vector<std::future<Response>> futures;
    for (int i = 0; i < count; ++i)
        futures.push_back(net::co_spawn(executor, send(client, get(url), settings), net::use_future));
    int succeeded = 0;
    for (auto& future : futures) {
        co_await wait_ready(future);
        const Response response = future.get();
        if (response.body == "ok") ++succeeded;
    }
    co_return succeeded;
}

/// Starts a slow request, then a second one that must wait for the only connection; returns the
/// second one's error (if any) once both have finished.
net::awaitable<std::optional<CommandError>> slow_then_waiting(Client& client, std::string slow_url,
                                                              std::string fast_url, Http settings) {
    auto executor = co_await net::this_coro::executor;
    auto slow = net::co_spawn(executor, send(client, get(slow_url), settings), net::use_future);
    std::optional<CommandError> waiting_error;
    try {
        co_await send(client, get(fast_url), settings);
    } catch (const CommandError& error) {
        waiting_error = error;
    }
    co_await wait_ready(slow);
    co_return waiting_error;
}

/// Reads a whole stream unless `limit` passes first; true when the timer won.
net::awaitable<bool> read_or_give_up(Client& client, std::string url, Http settings, std::chrono::milliseconds limit) {
    using namespace net::experimental::awaitable_operators;
    auto executor = co_await net::this_coro::executor;
    net::steady_timer timer(executor, limit);
    auto result = co_await (read_pieces(client, get(url), settings, 0) || timer.async_wait(net::use_awaitable));
    co_return result.index() == 1;
}

/// Sends `count` requests one after another; returns how many answered "ok". Used off the test thread.
net::awaitable<int> sequential_sends(Client& client, std::string url, Http settings, int count) {
    int succeeded = 0;
    for (int i = 0; i < count; ++i) {
        const Response response = co_await client.send(get(url), settings);
        if (response.body == "ok") ++succeeded;
    }
    co_return succeeded;
}

}  // namespace

TEST_CASE("the pool is bounded: concurrent requests wait for a free connection", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply = text_reply("ok");
        reply.delay_before_headers = 30ms;
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Http settings = fast_settings();
    settings.max_connections_per_origin = 2;
    CHECK(run(io, concurrent_sends(client, server.url(), settings, 8)) == 8);
    CHECK(client.stats().connections_opened <= 2);
    CHECK(server.connections_accepted() <= 2);
    CHECK(client.stats().connections_opened + client.stats().connections_reused == 8);
}

TEST_CASE("waiting for a free connection is bounded by the connect timeout", "[http]") {
    HttpTestServer server([](const ReceivedRequest& request) {
        Reply reply = text_reply("ok");
        if (request.target == "/slow") reply.delay_before_headers = 1s;
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Http settings = fast_settings();
    settings.max_connections_per_origin = 1;
    settings.connect_timeout = 100ms;
    const std::optional<CommandError> waiting_error =
        run(io, slow_then_waiting(client, server.url("/slow"), server.url("/fast"), settings));
    REQUIRE(waiting_error);
    CHECK(waiting_error->kind() == ErrorKind::timeout);
    CHECK(waiting_error->diagnostics().phase == "connect");
    CHECK(client.stats().connections_opened == 1);
}

TEST_CASE("response size limit on whole and streamed bodies", "[http]") {
    HttpTestServer server([](const ReceivedRequest& request) {
        Reply reply;
        reply.chunked = request.target == "/chunked";
        reply.body = std::vector<std::string>(10, std::string(100, 'x'));
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Http settings = fast_settings();
    settings.max_response_bytes = 250;
    const CommandError whole = run_expecting_error(io, send(client, get(server.url("/whole")), settings));
    CHECK(whole.kind() == ErrorKind::response_too_large);
    const CommandError streamed = run_expecting_error(io, read_pieces(client, get(server.url("/chunked")), settings, 0));
    CHECK(streamed.kind() == ErrorKind::response_too_large);
    settings.max_response_bytes = 1000;
    CHECK(run(io, send(client, get(server.url("/whole")), settings)).body.size() == 1000);
    CHECK(run(io, send(client, get(server.url("/chunked")), settings)).body.size() == 1000);
}

TEST_CASE("chunked bodies are decoded and streamed piece by piece", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.chunked = true;
        reply.body = {"data: one\n\n", "data: two\n\n", std::string(40000, 'z')};
        reply.delay_between_pieces = 10ms;
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    const std::string first = run(io, read_pieces(client, get(server.url()), fast_settings(), 1));
    CHECK(first == "data: one\n\n");
    const Response whole = run(io, send(client, get(server.url()), fast_settings()));
    CHECK(whole.body == "data: one\n\ndata: two\n\n" + std::string(40000, 'z'));
}

TEST_CASE("a truncated body is a read error; garbage instead of HTTP is a protocol error", "[http]") {
    HttpTestServer server([](const ReceivedRequest& request) {
        Reply reply;
        reply.body = {std::string(100, 'x')};
        if (request.target == "/truncated") reply.truncate_body_at = 40;
        if (request.target == "/garbage") reply.raw = "this is not http at all\r\n\r\n";
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    const CommandError truncated = run_expecting_error(io, send(client, get(server.url("/truncated")), fast_settings()));
    CHECK(truncated.kind() == ErrorKind::connection);
    CHECK(truncated.diagnostics().phase == "read");
    CHECK_FALSE(truncated.retryable());
    const CommandError garbage = run_expecting_error(io, send(client, get(server.url("/garbage")), fast_settings()));
    CHECK(garbage.kind() == ErrorKind::protocol);
    CHECK_FALSE(garbage.retryable());
}

TEST_CASE("connecting to a closed port is a retryable connection error", "[http]") {
    unsigned short port = 0;
    {
        net::io_context probe;
        net::ip::tcp::acceptor acceptor(probe, {net::ip::make_address("127.0.0.1"), 0});
        port = acceptor.local_endpoint().port();
    }
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    const CommandError error =
        run_expecting_error(io, send(client, get("http://127.0.0.1:" + std::to_string(port) + "/"), fast_settings()));
    CHECK(error.kind() == ErrorKind::connection);
    CHECK(error.diagnostics().phase == "connect");
    CHECK(error.retryable());
}

// The connect timeout itself is not tested: on loopback a connect either succeeds or is refused at
// once, and an unroutable address would leave the machine. Waiting for a pool slot (above) exercises
// the same bound.

TEST_CASE("cancellation mid-stream closes the connection and leaves no work behind", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.chunked = true;
        reply.body = {"first", "never"};
        reply.delay_between_pieces = 5s;
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});

    SECTION("through a cancellation signal: CommandError(cancelled)") {
        net::cancellation_signal signal;
        std::exception_ptr error;
        bool done = false;
        net::co_spawn(io, read_pieces(client, get(server.url()), fast_settings(), 0),
                      net::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, std::string) {
                          done = true;
                          error = e;
                      }));
        net::steady_timer timer(io, 200ms);
        timer.async_wait([&](boost::system::error_code) { signal.emit(net::cancellation_type::terminal); });
        const auto started = std::chrono::steady_clock::now();
        io.run_for(4s);
        CHECK(io.stopped());  // ran out of work
        CHECK(std::chrono::steady_clock::now() - started < 3s);
        REQUIRE(done);
        REQUIRE(error);
        try {
            std::rethrow_exception(error);
        } catch (const CommandError& e) {
            CHECK(e.kind() == ErrorKind::cancelled);
        }
    }
    SECTION("through || with a timer") {
        const auto started = std::chrono::steady_clock::now();
        const bool timer_won = run(io, read_or_give_up(client, server.url(), fast_settings(), 200ms));
        CHECK(timer_won);
        // run() allows 10 s; returning this early means the io_context ran out of work.
        CHECK(std::chrono::steady_clock::now() - started < 3s);
    }
    CHECK(eventually([&] { return server.connections_closed_by_peer() == 1; }));
    CHECK(client.stats().connections_opened == 1);
}

TEST_CASE("TLS with a test CA: success, wrong host name, untrusted certificate", "[http][tls]") {
    const auto pki = alloy::mock::generate_test_pki();
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("secure"); }, server_tls_context(pki));
    const std::string ca_file = write_temp_file(pki.ca_cert_pem);
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Http settings = fast_settings();
    settings.ca_file = ca_file;

    SECTION("IP address and host name verified against the test CA, connection reused") {
        CHECK(run(io, send(client, get(server.url()), settings)).body == "secure");
        CHECK(run(io, send(client, get(server.url()), settings)).body == "secure");
        CHECK(client.stats().connections_opened == 1);
        const std::string by_name = "https://localhost:" + std::to_string(server.port()) + "/";
        CHECK(run(io, send(client, get(by_name), settings)).body == "secure");
    }
    SECTION("a certificate for another host name is refused") {
        const auto other = alloy::mock::generate_test_pki({"other.example"}, {});
        HttpTestServer wrong([](const ReceivedRequest&) { return text_reply("no"); }, server_tls_context(other));
        Http other_settings = fast_settings();
        other_settings.ca_file = write_temp_file(other.ca_cert_pem);
        const CommandError error = run_expecting_error(io, send(client, get(wrong.url()), other_settings));
        CHECK(error.kind() == ErrorKind::connection);
        CHECK(error.diagnostics().phase == "tls_handshake");
        CHECK_FALSE(error.retryable());
        CHECK(wrong.requests().empty());
        std::filesystem::remove(other_settings.ca_file);
    }
    SECTION("without the test CA the system store does not trust the server") {
        const CommandError error = run_expecting_error(io, send(client, get(server.url()), fast_settings()));
        CHECK(error.kind() == ErrorKind::connection);
        CHECK(error.diagnostics().phase == "tls_handshake");
        CHECK(server.requests().empty());
    }
    SECTION("insecure_skip_tls_verify accepts it when asked to") {
        Http insecure = fast_settings();
        insecure.insecure_skip_tls_verify = true;
        CHECK(run(io, send(client, get(server.url()), insecure)).body == "secure");
    }
    std::filesystem::remove(ca_file);
}

TEST_CASE("proxies: CONNECT tunnel for https with basic auth, absolute form for http", "[http][proxy]") {
    alloy::test::TestProxy proxy;
    const auto pki = alloy::mock::generate_test_pki();
    HttpTestServer server([](const ReceivedRequest& request) { return text_reply("via " + request.target); },
                          server_tls_context(pki));
    const std::string ca_file = write_temp_file(pki.ca_cert_pem);
    alloy::http::ProxyConfig config;
    config.https_proxy = "http://user:p%40ss@127.0.0.1:" + std::to_string(proxy.port());
    config.http_proxy = proxy.url();
    net::io_context io;
    Client client(config);
    Http settings = fast_settings();
    settings.ca_file = ca_file;

    CHECK(run(io, send(client, get(server.url("/tunnelled")), settings)).body == "via /tunnelled");
    CHECK(run(io, send(client, get(server.url("/again")), settings)).body == "via /again");
    CHECK(client.stats().connections_opened == 1);
    const auto seen = proxy.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == "CONNECT 127.0.0.1:" + std::to_string(server.port()));
    REQUIRE(proxy.authorizations().size() == 1);
    CHECK(proxy.authorizations()[0] == "Basic dXNlcjpwQHNz");  // user:p@ss

    const Response plain = run(io, send(client, get("http://example.invalid:8080/x?y=1"), settings));
    CHECK(plain.body == "proxied http://example.invalid:8080/x?y=1");

    std::filesystem::remove(ca_file);
}

TEST_CASE("NO_PROXY bypasses the proxy", "[http][proxy]") {
    alloy::test::TestProxy proxy;
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("direct"); });
    alloy::http::ProxyConfig config;
    config.http_proxy = proxy.url();
    config.no_proxy = "example.com, 127.0.0.1";
    net::io_context io;
    Client client(config);
    CHECK(run(io, send(client, get(server.url()), fast_settings())).body == "direct");
    CHECK(proxy.seen().empty());
}

TEST_CASE("one Client used from two threads keeps one pool per executor", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("ok"); });
    // The contexts outlive the Client, whose destructor releases its pools in both.
    net::io_context first_io;
    net::io_context second_io;
    Client client(alloy::http::ProxyConfig{});
    std::atomic<int> succeeded{0};
    auto worker = [&](net::io_context& io) {
        net::co_spawn(io, sequential_sends(client, server.url(), fast_settings(), 5),
                      [&](std::exception_ptr error, int count) {
                          if (!error) succeeded += count;
                      });
        io.run_for(10s);
    };
    std::thread first(worker, std::ref(first_io));
    std::thread second(worker, std::ref(second_io));
    first.join();
    second.join();
    CHECK(succeeded == 10);
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().connections_reused == 8);
}

namespace {

/// Accepts one connection and then never reads from it, so a large request cannot be written.
net::awaitable<void> accept_and_hold(net::ip::tcp::acceptor& acceptor, std::shared_ptr<net::ip::tcp::socket> held) {
    co_await acceptor.async_accept(*held, net::use_awaitable);
}

net::awaitable<Response> hold_then_send(net::ip::tcp::acceptor& acceptor, std::shared_ptr<net::ip::tcp::socket> held,
                                        Client& client, Request request, Http settings) {
    auto executor = co_await net::this_coro::executor;
    net::co_spawn(executor, accept_and_hold(acceptor, held), net::detached);
    Response response = co_await client.send(std::move(request), settings);
    co_return response;
}

}  // namespace

TEST_CASE("write timeout when the server does not read the request", "[http]") {
    net::io_context io;
    net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    auto held = std::make_shared<net::ip::tcp::socket>(io);
    Client client(alloy::http::ProxyConfig{});
    Http settings = fast_settings();
    settings.write_timeout = 200ms;
    Request request;
    request.url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/upload";
    request.body = std::string(64u << 20, 'b');  // far more than loopback socket buffers hold
    const CommandError error = run_expecting_error(io, hold_then_send(acceptor, held, client, request, settings));
    CHECK(error.kind() == ErrorKind::timeout);
    CHECK(error.diagnostics().phase == "write");
    CHECK(error.retryable());
}

TEST_CASE("idle pooled connections expire after pool_idle_timeout", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("ok"); });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Http settings = fast_settings();
    settings.pool_idle_timeout = 50ms;
    CHECK(run(io, send(client, get(server.url()), settings)).body == "ok");
    CHECK(run(io, send(client, get(server.url()), settings)).body == "ok");
    CHECK(client.stats().connections_reused == 1);
    std::this_thread::sleep_for(120ms);
    CHECK(run(io, send(client, get(server.url()), settings)).body == "ok");
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().connections_reused == 1);
}

TEST_CASE("error messages name host and phase but never header values or the query", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.raw = "garbage\r\n\r\n";
        return reply;
    });
    net::io_context io;
    Client client(alloy::http::ProxyConfig{});
    Request request = get(server.url("/v1/models?key=query-secret"));
    request.headers.set("Authorization", "Bearer header-secret");
    const CommandError error = run_expecting_error(io, send(client, request, fast_settings()));
    const std::string message = error.what();
    CHECK(message.find("127.0.0.1:" + std::to_string(server.port())) != std::string::npos);
    CHECK(message.find("first_byte") != std::string::npos);
    CHECK(message.find("header-secret") == std::string::npos);
    CHECK(message.find("query-secret") == std::string::npos);
    CHECK(error.diagnostics().message.find("secret") == std::string::npos);
}

// ---------------------------------------------------------------------------------------------------
// Pools and execution context lifetimes

namespace {

/// Opens a stream and reads its first piece; the stream is returned still open.
net::awaitable<std::unique_ptr<ResponseStream>> open_and_read_one(Client& client, Request request, Http settings) {
    std::unique_ptr<ResponseStream> stream = co_await client.open(std::move(request), settings);
    std::optional<std::string> first = co_await stream->next_chunk();
    REQUIRE(first);
    CHECK(*first == "first");
    co_return stream;
}

}  // namespace

TEST_CASE("one Client serves many short-lived io_contexts; each context's pool dies with it", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("ok"); });
    auto client = std::make_unique<Client>(alloy::http::ProxyConfig{});
    for (int i = 1; i <= 20; ++i) {
        {
            net::io_context io;
            CHECK(run(io, send(*client, get(server.url()), fast_settings())).body == "ok");
            CHECK(run(io, send(*client, get(server.url()), fast_settings())).body == "ok");
            // Reuse within one context; a new context never sees an earlier one's pool.
            CHECK(client->stats().connections_opened == static_cast<std::size_t>(i));
            CHECK(client->stats().connections_reused == static_cast<std::size_t>(i));
        }
        // Destroying the context closed its idle pooled connection.
        CHECK(eventually([&] { return server.connections_closed_by_peer() == i; }));
    }
    CHECK(server.connections_accepted() == 20);
    client.reset();  // after all its contexts: must touch none of their sockets
    CHECK(server.connections_closed_by_peer() == 20);
}

TEST_CASE("a new io_context at the address of a destroyed one starts with empty pools", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("ok"); });
    Client client(alloy::http::ProxyConfig{});
    std::optional<net::io_context> io;
    io.emplace();
    const void* first_address = &*io;
    CHECK(run(*io, send(client, get(server.url()), fast_settings())).body == "ok");
    io.reset();
    io.emplace();  // same storage, so same address and equal-looking executors
    REQUIRE(&*io == first_address);
    CHECK(run(*io, send(client, get(server.url()), fast_settings())).body == "ok");
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().connections_reused == 0);
    CHECK(server.connections_accepted() == 2);
}

TEST_CASE("destroying the io_context while a ResponseStream of it is alive", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.chunked = true;
        reply.body = {"first", "second"};
        reply.delay_between_pieces = 5s;
        return reply;
    });
    Client client(alloy::http::ProxyConfig{});
    std::unique_ptr<ResponseStream> stream;
    {
        net::io_context io;
        stream = run(io, open_and_read_one(client, get(server.url()), fast_settings()));
        REQUIRE(stream);
    }
    // The context's shutdown closed the connection the stream still holds.
    CHECK(eventually([&] { return server.connections_closed_by_peer() == 1; }));
    CHECK(stream->status() == 200);
    stream.reset();  // after its context: only releases its slot

    // The Client goes on working on a new context.
    net::io_context io;
    CHECK(run(io, read_pieces(client, get(server.url()), fast_settings(), 1)) == "first");
    CHECK(client.stats().connections_opened == 2);
}

TEST_CASE("a ResponseStream may outlive both its Client and its io_context", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.chunked = true;
        reply.body = {"first", "second"};
        reply.delay_between_pieces = 5s;
        return reply;
    });
    auto client = std::make_unique<Client>(alloy::http::ProxyConfig{});
    auto io = std::make_unique<net::io_context>();
    std::unique_ptr<ResponseStream> stream = run(*io, open_and_read_one(*client, get(server.url()), fast_settings()));
    client.reset();  // the stream's connection is in use: it stays open
    CHECK(server.connections_closed_by_peer() == 0);
    io.reset();
    CHECK(eventually([&] { return server.connections_closed_by_peer() == 1; }));
    stream.reset();
}

TEST_CASE("destroying the io_context while a request of it is suspended", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply = text_reply("late");
        reply.delay_before_headers = 5s;
        return reply;
    });
    Client client(alloy::http::ProxyConfig{});
    bool finished = false;
    {
        net::io_context io;
        net::co_spawn(io, send(client, get(server.url()), fast_settings()),
                      [&](std::exception_ptr, Response) { finished = true; });
        for (int i = 0; i < 200 && server.requests().empty(); ++i) io.run_for(10ms);
        REQUIRE(server.requests().size() == 1);
    }  // asio destroys the suspended coroutine and, with it, its lease
    CHECK_FALSE(finished);
    CHECK(eventually([&] { return server.connections_closed_by_peer() == 1; }));
    CHECK(client.stats().connections_opened == 1);
}

TEST_CASE("destroying the Client closes its idle connections in io_contexts still alive", "[http]") {
    HttpTestServer server([](const ReceivedRequest&) { return text_reply("ok"); });
    net::io_context io;
    auto client = std::make_unique<Client>(alloy::http::ProxyConfig{});
    auto other = std::make_unique<Client>(alloy::http::ProxyConfig{});
    CHECK(run(io, send(*client, get(server.url()), fast_settings())).body == "ok");
    CHECK(run(io, send(*other, get(server.url()), fast_settings())).body == "ok");
    client.reset();
    CHECK(eventually([&] { return server.connections_closed_by_peer() == 1; }));
    // The other Client's pool in the same context is untouched and still reused.
    CHECK(run(io, send(*other, get(server.url()), fast_settings())).body == "ok");
    CHECK(other->stats().connections_opened == 1);
    CHECK(other->stats().connections_reused == 1);
    CHECK(server.connections_closed_by_peer() == 1);
}
