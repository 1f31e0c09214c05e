// Example 09: an asynchronous HTTP service whose handler awaits a command per request.
//
// A Boost.Beast server on loopback: each connection is a coroutine, and each request body goes through
// a typed command (`co_await review.in(rt)(body)`) on the same io_context, with no thread per request.
// While one request waits for the model, the others proceed. The example sends itself three requests
// at once with a small Beast client, prints the responses and exits.
//
// Provider: the mock speaking Anthropic Messages. Its scripted model fills the schema with
// deterministic values (first enum value, "x", 1); a real model would read the reviews.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/describe.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

enum class Sentiment { positive, neutral, negative };
BOOST_DESCRIBE_ENUM(Sentiment, positive, neutral, negative)

struct Review {
    Sentiment sentiment;
    std::string summary;
    int stars;
};
BOOST_DESCRIBE_STRUCT(Review, (), (sentiment, summary, stars))

const auto review = alloy::command<Review>(
    "review", [](const std::string& text) { return "Classify this product review:\n" + text; },
    {.system = "Summarise in five words at most."});

std::atomic<int> handled{0};

// ---- the server --------------------------------------------------------------------------------------

// One connection. Parameters by value: this coroutine is spawned and outlives its caller's frame.
asio::awaitable<void> serve(tcp::socket socket, alloy::Runtime* rt) {
    const auto review_here = review.in(*rt);
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> request;
        auto [read_error, read_bytes] =
            co_await http::async_read(stream, buffer, request, asio::as_tuple(asio::use_awaitable));
        (void)read_bytes;
        if (read_error) break;  // the client closed the connection (or sent garbage)

        http::response<http::string_body> response{http::status::ok, request.version()};
        response.set(http::field::content_type, "application/json");
        try {
            Review r = co_await review_here(request.body());
            response.body() = boost::json::serialize(boost::json::object{
                {"input_chars", request.body().size()}, {"review", alloy::to_json(r)}});
        } catch (const alloy::CommandError& e) {
            response.result(http::status::bad_gateway);
            const std::string kind(alloy::to_string(e.kind()));
            response.body() = boost::json::serialize(boost::json::object{{"error", kind}});
        }
        ++handled;
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        auto [write_error, written] = co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
        (void)written;
        if (write_error || !response.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Accepts until the acceptor is closed. Shared ownership: closing it makes this coroutine resume later.
asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor, alloy::Runtime* rt) {
    for (;;) {
        auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        asio::co_spawn(acceptor->get_executor(), serve(std::move(socket), rt), asio::detached);
    }
}

// ---- a small client ----------------------------------------------------------------------------------

asio::awaitable<std::string> post(tcp::endpoint server, std::string body) {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    co_await stream.async_connect(server, asio::use_awaitable);
    http::request<http::string_body> request{http::verb::post, "/reviews", 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::content_type, "text/plain");
    request.keep_alive(false);
    request.body() = std::move(body);
    request.prepare_payload();
    co_await http::async_write(stream, request, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    co_await http::async_read(stream, buffer, response, asio::use_awaitable);
    co_return std::to_string(response.result_int()) + " " + response.body();
}

asio::awaitable<void> run(alloy::Runtime* rt) {
    using namespace asio::experimental::awaitable_operators;
    auto executor = co_await asio::this_coro::executor;
    auto acceptor = std::make_shared<tcp::acceptor>(executor, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const tcp::endpoint endpoint = acceptor->local_endpoint();
    std::cout << "service listening on 127.0.0.1:" << endpoint.port() << "\n";
    asio::co_spawn(executor, accept_loop(acceptor, rt), asio::detached);

    // Three requests at once; && waits for all of them.
    auto [a, b, c] = co_await (post(endpoint, "Great kettle, boils fast.") &&
                               post(endpoint, "It is a kettle. It boils water.") &&
                               post(endpoint, "Broke after a week, the lid never closed."));
    std::cout << "response 1: " << a << "\n";
    std::cout << "response 2: " << b << "\n";
    std::cout << "response 3: " << c << "\n";
    acceptor->close();  // the accept loop ends; connections already closed by the clients
}

int main() {
    try {
        alloy::mock::Server server;
        asio::io_context io;
        alloy::Runtime rt({.model = "claude-sonnet-4-5",
                           .provider = "anthropic",
                           .base_url = server.base_url(),
                           .api_key = "mock-key"});
        auto done = asio::co_spawn(io, run(&rt), asio::use_future);
        io.run();  // returns once the clients, the sessions and the accept loop have finished
        done.get();
        std::cout << "requests handled: " << handled << ", model requests: " << server.stats().requests << "\n";
        std::cout << "example 09 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 09 failed: " << e.what() << "\n";
        return 1;
    }
}
