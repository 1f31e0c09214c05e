// HttpProvider against the loopback test server: retries honouring Retry-After, error mapping,
// streams decoded chunk by chunk, a stream cut mid-way and an error event inside a 200 stream.
#include "providers/http_provider.hpp"
#include "providers/openai_chat.hpp"
#include "support/http_test_server.hpp"

#include <catch2/catch.hpp>

#include <atomic>

using namespace alloy;
using namespace alloy::providers;
using alloy::test::HttpTestServer;
using alloy::test::ReceivedRequest;
using alloy::test::Reply;
namespace net = boost::asio;

namespace {

struct RetrySeen {
    int attempt;
    std::chrono::milliseconds delay;
    int status;
};

// The client's pooled sockets belong to the io_context: the client must be destroyed first.
struct Fixture {
    net::io_context io;
    std::shared_ptr<http::Client> client = std::make_shared<http::Client>();
    std::vector<RetrySeen> retries;

    std::shared_ptr<HttpProvider> provider(const HttpTestServer& server, int request_retries = 2) {
        HttpProviderOptions options;
        options.http.request_retries = request_retries;
        options.http.first_byte_timeout = std::chrono::milliseconds(5000);
        options.http.stream_idle_timeout = std::chrono::milliseconds(5000);
        options.backoff_initial = std::chrono::milliseconds(5);
        options.backoff_max = std::chrono::milliseconds(20);
        options.retry_after_max = std::chrono::milliseconds(200);
        options.seed = 42;
        options.on_retry = [this](int attempt, std::chrono::milliseconds delay, const Diagnostics& diag) {
            retries.push_back({attempt, delay, diag.http_status});
        };
        return std::make_shared<HttpProvider>(make_openai_chat_adapter({"local-model", server.url("/v1"), "sk-loop"}),
                                              client, options);
    }
};

ModelRequest hello() {
    ModelRequest r;
    r.model = "local-model";
    r.messages.push_back(Message{Message::Role::user, "hi", {}, {}});
    return r;
}

/// Runs `op` to completion on `io`, bounded by a hard limit.
template <typename T>
T run(net::io_context& io, net::awaitable<T> op) {
    io.restart();
    std::optional<T> result;
    std::exception_ptr error;
    net::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
        if (e) error = e;
        else result = std::move(value);
    });
    io.run_for(std::chrono::seconds(20));
    if (error) std::rethrow_exception(error);
    REQUIRE(result.has_value());
    return std::move(*result);
}

net::awaitable<ModelReply> do_complete(std::shared_ptr<HttpProvider> p, ModelRequest r) {
    ModelReply reply = co_await p->complete(r);
    co_return reply;
}

struct Streamed {
    std::vector<std::string> deltas;
    ModelReply reply;
    std::string error;
    ErrorKind kind = ErrorKind::other;
};

net::awaitable<Streamed> do_stream(std::shared_ptr<HttpProvider> p, ModelRequest r) {
    Streamed out;
    std::unique_ptr<ReplyStream> stream = co_await p->stream(r);
    try {
        for (;;) {
            std::optional<std::string> delta = co_await stream->next();
            if (!delta) break;
            out.deltas.push_back(std::move(*delta));
        }
        out.reply = stream->final();
    } catch (const CommandError& e) {
        out.error = e.what();
        out.kind = e.kind();
    }
    co_return out;
}

const char* ok_body = R"({"model":"local-model","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}})";

Reply sse_reply(std::vector<std::string> pieces) {
    Reply reply;
    reply.headers = {{"Content-Type", "text/event-stream"}, {"x-request-id", "req_stream"}};
    reply.body = std::move(pieces);
    reply.chunked = true;
    return reply;
}

}  // namespace

TEST_CASE("http provider: retries a 429 honouring Retry-After, then parses the reply", "[providers]") {
    std::atomic<int> calls{0};
    HttpTestServer server([&](const ReceivedRequest&) {
        Reply reply;
        if (calls++ == 0) {
            reply.status = 429;
            reply.headers = {{"Retry-After", "0.05"}, {"Content-Type", "application/json"}};
            reply.body = {R"({"error":{"message":"slow down","type":"rate_limit","code":"rate_limit_exceeded"}})"};
        } else {
            reply.headers = {{"Content-Type", "application/json"}, {"x-request-id", "req_ok"}};
            reply.body = {ok_body};
        }
        return reply;
    });
    Fixture f;
    const auto reply = run(f.io, do_complete(f.provider(server), hello()));
    CHECK(reply.text == "hello");
    CHECK(reply.request_id == "req_ok");
    CHECK(reply.usage.input_tokens == 3);
    REQUIRE(f.retries.size() == 1);
    CHECK(f.retries[0].attempt == 1);
    CHECK(f.retries[0].delay == std::chrono::milliseconds(50));
    CHECK(f.retries[0].status == 429);
    const auto requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].target == "/v1/chat/completions");
    CHECK(requests[0].headers.at("authorization") == "Bearer sk-loop");
    CHECK(requests[0].body == requests[1].body);
}

TEST_CASE("http provider: a 400 is not retried and maps to provider_status", "[providers]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.status = 400;
        reply.body = {R"({"error":{"message":"messages must not be empty","type":"invalid_request_error","code":null}})"};
        return reply;
    });
    Fixture f;
    try {
        run(f.io, do_complete(f.provider(server), hello()));
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::provider_status);
        CHECK(std::string(e.what()) == "openai-chat returned HTTP 400 invalid_request_error: messages must not be empty");
        CHECK(e.diagnostics().http_status == 400);
        CHECK_FALSE(e.retryable());
        CHECK_THAT(e.what(), !Catch::Contains("sk-loop"));
    }
    CHECK(server.requests().size() == 1);
    CHECK(f.retries.empty());
}

TEST_CASE("http provider: retries stop after request_retries; long Retry-After is capped", "[providers]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.status = 503;
        reply.headers = {{"Retry-After", "3600"}};
        reply.body = {R"({"error":{"message":"overloaded","type":"server_error"}})"};
        return reply;
    });
    Fixture f;
    try {
        run(f.io, do_complete(f.provider(server, 1), hello()));
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::provider_status);
        CHECK(e.diagnostics().http_status == 503);
        CHECK(e.retryable());
    }
    CHECK(server.requests().size() == 2);
    REQUIRE(f.retries.size() == 1);
    CHECK(f.retries[0].delay == std::chrono::milliseconds(200));
}

TEST_CASE("http provider: streams deltas chunk by chunk and after a retried error status", "[providers]") {
    std::atomic<int> calls{0};
    HttpTestServer server([&](const ReceivedRequest& request) {
        if (calls++ == 0) {
            Reply reply;
            reply.status = 500;
            reply.body = {"internal"};
            return reply;
        }
        CHECK(request.body.find("\"stream\":true") != std::string::npos);
        return sse_reply({"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n",
                          "\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
                          "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
                          "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"});
    });
    Fixture f;
    const auto streamed = run(f.io, do_stream(f.provider(server), hello()));
    CHECK(streamed.error.empty());
    CHECK(streamed.deltas == std::vector<std::string>{"Hel", "lo"});
    CHECK(streamed.reply.text == "Hello");
    CHECK(streamed.reply.usage.output_tokens == 2);
    CHECK(streamed.reply.request_id == "req_stream");
    CHECK(f.retries.size() == 1);
}

TEST_CASE("http provider: a stream cut mid-way raises a stream error and is not retried", "[providers]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.headers = {{"Content-Type", "text/event-stream"}};
        reply.body = {"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"};
        reply.truncate_body_at = 60;
        return reply;
    });
    Fixture f;
    const auto streamed = run(f.io, do_stream(f.provider(server), hello()));
    CHECK(streamed.kind == ErrorKind::stream);
    CHECK_FALSE(streamed.error.empty());
    CHECK(server.requests().size() == 1);
    CHECK(f.retries.empty());
}

TEST_CASE("http provider: an error event inside a 200 stream raises after the earlier deltas", "[providers]") {
    HttpTestServer server([](const ReceivedRequest&) {
        return sse_reply({"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n",
                          "data: {\"error\":{\"message\":\"upstream exploded\",\"type\":\"server_error\",\"code\":502}}\n\n"});
    });
    Fixture f;
    const auto streamed = run(f.io, do_stream(f.provider(server), hello()));
    CHECK(streamed.deltas == std::vector<std::string>{"par"});
    CHECK(streamed.kind == ErrorKind::stream);
    CHECK_THAT(streamed.error, Catch::Contains("upstream exploded"));
}

TEST_CASE("http provider: a malformed 200 body is a protocol error with a snippet", "[providers]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply reply;
        reply.body = {"{\"choices\":[{\"index\":0,"};
        return reply;
    });
    Fixture f;
    try {
        run(f.io, do_complete(f.provider(server), hello()));
        FAIL("expected an exception");
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::protocol);
        CHECK_THAT(e.what(), Catch::Contains("{\"choices\""));
    }
    CHECK(server.requests().size() == 1);
}
