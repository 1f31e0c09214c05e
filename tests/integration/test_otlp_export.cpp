// OTLP/HTTP export against a loopback receiver: payload, batching, flush interval, bounded queue,
// shutdown, and that exporting never blocks the caller.
#include <alloy/errors.hpp>
#include <alloy/logging.hpp>
#include <alloy/tracing.hpp>

#include "support/http_test_server.hpp"

#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

using namespace alloy;
using namespace std::chrono_literals;
using alloy::test::HttpTestServer;
using alloy::test::ReceivedRequest;
using alloy::test::Reply;

namespace {

Reply ok_reply(const ReceivedRequest&) {
    Reply r;
    r.status = 200;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = {"{}"};
    return r;
}

Span make_span(int i) {
    Span s;
    s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    char id[17];
    std::snprintf(id, sizeof id, "%016x", i + 1);
    s.span_id = id;
    s.name = "chat m";
    s.kind = SpanKind::client;
    s.start = std::chrono::system_clock::now();
    s.end = s.start + 5ms;
    s.set_attribute("alloy.index", std::int64_t{i});
    s.status = SpanStatus::ok;
    return s;
}

std::size_t spans_in(const ReceivedRequest& request) {
    const auto body = boost::json::parse(request.body);
    return body.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array().size();
}

/// Polls `done` until it holds or `limit` passes.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return done();
}

}  // namespace

TEST_CASE("otlp export: one POST to /v1/traces with the OTLP/JSON body", "[observe]") {
    HttpTestServer server(ok_reply);
    OtlpHttpExporterOptions options;
    options.endpoint = server.url("/");
    options.service_name = "billing";
    options.headers = {{"X-Collector-Token", "t-1"}};
    auto exporter = std::make_shared<OtlpHttpExporter>(options);

    // Spans come from a Tracer fed with events, as in a real run.
    Tracer tracer(exporter);
    Event start;
    start.type = EventType::command_start;
    start.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    start.span_id = "00f067aa0ba902b7";
    start.command = "extract";
    tracer.on_event(start);
    Event end = start;
    end.type = EventType::command_end;
    end.outcome = "ok";
    tracer.on_event(end);

    CHECK(exporter->shutdown(5s));
    const auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    const auto& r = requests[0];
    CHECK(r.method == "POST");
    CHECK(r.target == "/v1/traces");
    CHECK(r.headers.at("content-type") == "application/json");
    CHECK(r.headers.at("x-collector-token") == "t-1");
    const auto body = boost::json::parse(r.body);
    const auto& rs = body.at("resourceSpans").at(0);
    CHECK(rs.at("resource").at("attributes").at(0).at("value").at("stringValue") == "billing");
    const auto& span = rs.at("scopeSpans").at(0).at("spans").at(0);
    CHECK(span.at("traceId") == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(span.at("spanId") == "00f067aa0ba902b7");
    CHECK(span.at("name") == "command extract");
    CHECK(span.at("kind") == 1);
    CHECK(span.at("status").at("code") == 1);
    const auto stats = exporter->stats();
    CHECK(stats.submitted == 1);
    CHECK(stats.exported == 1);
    CHECK(stats.posts == 1);
}

TEST_CASE("otlp export: N spans go out in ceil(N / batch) POSTs", "[observe]") {
    HttpTestServer server(ok_reply);
    OtlpHttpExporterOptions options;
    options.endpoint = server.url("/");
    options.max_batch_size = 4;
    options.flush_interval = 60s;  // only full batches before shutdown
    OtlpHttpExporter exporter(options);
    for (int i = 0; i < 10; ++i) exporter.export_spans({make_span(i)});

    // Two full batches are sent without waiting for the interval.
    REQUIRE(eventually([&] { return server.requests().size() == 2; }));
    std::this_thread::sleep_for(50ms);
    CHECK(server.requests().size() == 2);  // the partial rest waits

    CHECK(exporter.shutdown(5s));  // flushes the rest
    const auto requests = server.requests();
    REQUIRE(requests.size() == 3);
    CHECK(spans_in(requests[0]) == 4);
    CHECK(spans_in(requests[1]) == 4);
    CHECK(spans_in(requests[2]) == 2);
    const auto stats = exporter.stats();
    CHECK(stats.exported == 10);
    CHECK(stats.posts == 3);
    CHECK(stats.dropped == 0);
}

TEST_CASE("otlp export: a partial batch is sent after the flush interval", "[observe]") {
    HttpTestServer server(ok_reply);
    OtlpHttpExporterOptions options;
    options.endpoint = server.url("/");
    options.max_batch_size = 100;
    options.flush_interval = 100ms;
    OtlpHttpExporter exporter(options);
    exporter.export_spans({make_span(0), make_span(1), make_span(2)});
    REQUIRE(eventually([&] { return server.requests().size() == 1; }));
    CHECK(spans_in(server.requests()[0]) == 3);
    // The exporter counts the spans once the collector's reply has arrived, just after the server saw them.
    CHECK(eventually([&] { return exporter.stats().exported == 3; }));
    CHECK(exporter.shutdown(5s));
    CHECK(server.requests().size() == 1);  // nothing left to send
}

TEST_CASE("otlp export: a slow receiver makes the bounded queue drop, and drops are counted", "[observe]") {
    HttpTestServer server([](const ReceivedRequest& request) {
        Reply r = ok_reply(request);
        r.delay_before_headers = 300ms;
        return r;
    });
    OtlpHttpExporterOptions options;
    options.endpoint = server.url("/");
    options.max_batch_size = 5;
    options.max_queue_size = 10;
    options.flush_interval = 50ms;
    OtlpHttpExporter exporter(options);
    for (int i = 0; i < 100; ++i) exporter.export_spans({make_span(i)});
    CHECK(exporter.stats().dropped >= 100 - 10 - 5);  // at most one batch in flight plus a full queue

    CHECK(exporter.shutdown(10s));
    const auto stats = exporter.stats();
    std::size_t received = 0;
    for (const auto& r : server.requests()) received += spans_in(r);
    CHECK(stats.submitted == 100);
    CHECK(stats.exported == received);
    CHECK(stats.submitted == stats.exported + stats.failed + stats.dropped);
    CHECK(stats.failed == 0);
}

TEST_CASE("otlp export: enqueuing never blocks, even with a stalled receiver", "[observe]") {
    HttpTestServer server([](const ReceivedRequest& request) {
        Reply r = ok_reply(request);
        r.delay_before_headers = 10s;  // never answers within the test
        return r;
    });
    OtlpHttpExporterOptions options;
    options.endpoint = server.url("/");
    options.max_batch_size = 100;
    options.max_queue_size = 1000;
    options.flush_interval = 10ms;
    auto exporter = std::make_shared<OtlpHttpExporter>(options);
    Tracer tracer(exporter);

    std::vector<Event> events;
    events.reserve(20000);
    for (int i = 0; i < 10000; ++i) {
        char id[17];
        std::snprintf(id, sizeof id, "%016x", i + 1);
        Event start;
        start.type = EventType::tool_start;
        start.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        start.span_id = id;
        start.tool = "add";
        Event end = start;
        end.type = EventType::tool_end;
        end.outcome = "ok";
        events.push_back(std::move(start));
        events.push_back(std::move(end));
    }
    const auto begin = std::chrono::steady_clock::now();
    for (const auto& e : events) tracer.on_event(e);  // 10k spans
    const auto elapsed = std::chrono::steady_clock::now() - begin;
    // Blocking on the receiver would take its 10 s stall at least; 20,000 enqueues take well under a
    // second normally and about one under a loaded sanitizer build, so the bound stays generous.
    CHECK(elapsed < 5s);
    CHECK(exporter->stats().dropped >= 10000 - 1000 - 100);

    // Shutdown is bounded too: the stalled POST is abandoned.
    const auto shutdown_begin = std::chrono::steady_clock::now();
    CHECK_FALSE(exporter->shutdown(200ms));
    CHECK(std::chrono::steady_clock::now() - shutdown_begin < 3s);
    const auto stats = exporter->stats();
    CHECK(stats.submitted == 10000);
    CHECK(stats.exported == 0);
    CHECK(stats.submitted == stats.exported + stats.failed + stats.dropped);
    exporter->export_spans({make_span(1)});  // after shutdown: dropped, no crash
    CHECK(exporter->stats().dropped == stats.dropped + 1);
}

TEST_CASE("otlp export: collector errors are counted and logged without secrets", "[observe]") {
    HttpTestServer server([](const ReceivedRequest&) {
        Reply r;
        r.status = 500;
        r.body = {"boom"};
        return r;
    });
    std::vector<std::string> lines;
    std::mutex mutex;
    set_log_handler(LogLevel::warn, [&](LogLevel, std::string_view line) {
        std::lock_guard lock(mutex);
        lines.emplace_back(line);
    });
    OtlpHttpExporterOptions options;
    options.endpoint = server.url("/");
    options.headers = {{"Authorization", "Bearer collector-secret"}};
    {
        OtlpHttpExporter exporter(options);
        exporter.export_spans({make_span(0), make_span(1)});
        CHECK(exporter.shutdown(5s));
        const auto stats = exporter.stats();
        CHECK(stats.failed == 2);
        CHECK(stats.exported == 0);
        CHECK(stats.posts == 1);
    }
    set_log_handler(LogLevel::info, nullptr);
    std::lock_guard lock(mutex);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("HTTP 500") != std::string::npos);
    CHECK(lines[0].find("collector-secret") == std::string::npos);
}

TEST_CASE("otlp export: the endpoint must be an http(s) URL", "[observe]") {
    OtlpHttpExporterOptions options;
    options.endpoint = "localhost:4318";
    CHECK_THROWS_AS(OtlpHttpExporter(options), ConfigurationError);
}
