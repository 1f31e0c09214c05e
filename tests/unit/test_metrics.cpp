// Metrics: Prometheus text exactness, the in-flight gauge, snapshots and concurrency.
#include <alloy/metrics.hpp>

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

using namespace alloy;
using namespace std::chrono_literals;

namespace {

Event make(EventType type, std::string command, std::string model = "m") {
    Event e;
    e.type = type;
    e.command = std::move(command);
    e.model = std::move(model);
    return e;
}

const std::string weird = "say \"hi\"\\\n";  // needs every label escape

/// A small run: two commands (one fails), two requests, a retry, a stream, two tool calls.
void feed_scenario(Metrics& metrics) {
    metrics.on_event(make(EventType::command_start, "ask"));
    metrics.on_event(make(EventType::command_start, weird));

    Event request = make(EventType::request_end, "ask");
    request.provider = "openai";
    request.http_status = 429;
    request.outcome = "error";
    request.duration = 62500us;
    metrics.on_event(request);
    Event retry = make(EventType::retry_scheduled, "ask");
    retry.retry_level = "request";
    metrics.on_event(retry);
    request.http_status = 200;
    request.outcome = "ok";
    request.duration = 500ms;
    metrics.on_event(request);

    Event first = make(EventType::stream_first_chunk, "ask");
    first.duration = 125ms;
    metrics.on_event(first);

    Event tool = make(EventType::tool_end, "ask");
    tool.tool = "add";
    tool.outcome = "ok";
    metrics.on_event(tool);
    tool.outcome = "error";
    tool.contract = "b must be non-negative";
    metrics.on_event(tool);

    Event done = make(EventType::command_end, "ask");
    done.outcome = "ok";
    done.duration = 1500ms;
    done.usage = Usage{10, 5, 2, 1};
    metrics.on_event(done);

    Event failed = make(EventType::command_end, weird);
    failed.outcome = "error";
    failed.error_kind = ErrorKind::timeout;
    failed.duration = 250ms;
    metrics.on_event(failed);
}

}  // namespace

TEST_CASE("metrics: Prometheus text for a small scenario", "[observe]") {
    Metrics metrics(MetricsOptions{.buckets = {1, 0.1}});  // unsorted on purpose
    feed_scenario(metrics);
    const std::string w = R"(say \"hi\"\\\n)";
    const std::string expected =
        "# HELP alloy_commands_total Commands finished, by outcome.\n"
        "# TYPE alloy_commands_total counter\n"
        "alloy_commands_total{command=\"ask\",model=\"m\",outcome=\"ok\"} 1\n"
        "alloy_commands_total{command=\"" + w + "\",model=\"m\",outcome=\"error\"} 1\n"
        "# HELP alloy_command_duration_seconds Duration of whole commands in seconds.\n"
        "# TYPE alloy_command_duration_seconds histogram\n"
        "alloy_command_duration_seconds_bucket{command=\"ask\",model=\"m\",le=\"0.1\"} 0\n"
        "alloy_command_duration_seconds_bucket{command=\"ask\",model=\"m\",le=\"1\"} 0\n"
        "alloy_command_duration_seconds_bucket{command=\"ask\",model=\"m\",le=\"+Inf\"} 1\n"
        "alloy_command_duration_seconds_sum{command=\"ask\",model=\"m\"} 1.5\n"
        "alloy_command_duration_seconds_count{command=\"ask\",model=\"m\"} 1\n"
        "alloy_command_duration_seconds_bucket{command=\"" + w + "\",model=\"m\",le=\"0.1\"} 0\n"
        "alloy_command_duration_seconds_bucket{command=\"" + w + "\",model=\"m\",le=\"1\"} 1\n"
        "alloy_command_duration_seconds_bucket{command=\"" + w + "\",model=\"m\",le=\"+Inf\"} 1\n"
        "alloy_command_duration_seconds_sum{command=\"" + w + "\",model=\"m\"} 0.25\n"
        "alloy_command_duration_seconds_count{command=\"" + w + "\",model=\"m\"} 1\n"
        "# HELP alloy_commands_in_flight Commands currently running.\n"
        "# TYPE alloy_commands_in_flight gauge\n"
        "alloy_commands_in_flight{command=\"ask\"} 0\n"
        "alloy_commands_in_flight{command=\"" + w + "\"} 0\n"
        "# HELP alloy_requests_total Provider requests finished, by HTTP status (or error kind without a response).\n"
        "# TYPE alloy_requests_total counter\n"
        "alloy_requests_total{provider=\"openai\",model=\"m\",status=\"200\"} 1\n"
        "alloy_requests_total{provider=\"openai\",model=\"m\",status=\"429\"} 1\n"
        "# HELP alloy_request_duration_seconds Duration of provider requests in seconds.\n"
        "# TYPE alloy_request_duration_seconds histogram\n"
        "alloy_request_duration_seconds_bucket{provider=\"openai\",model=\"m\",le=\"0.1\"} 1\n"
        "alloy_request_duration_seconds_bucket{provider=\"openai\",model=\"m\",le=\"1\"} 2\n"
        "alloy_request_duration_seconds_bucket{provider=\"openai\",model=\"m\",le=\"+Inf\"} 2\n"
        "alloy_request_duration_seconds_sum{provider=\"openai\",model=\"m\"} 0.5625\n"
        "alloy_request_duration_seconds_count{provider=\"openai\",model=\"m\"} 2\n"
        "# HELP alloy_time_to_first_token_seconds Time from the start of a stream to its first text chunk in seconds.\n"
        "# TYPE alloy_time_to_first_token_seconds histogram\n"
        "alloy_time_to_first_token_seconds_bucket{command=\"ask\",model=\"m\",le=\"0.1\"} 0\n"
        "alloy_time_to_first_token_seconds_bucket{command=\"ask\",model=\"m\",le=\"1\"} 1\n"
        "alloy_time_to_first_token_seconds_bucket{command=\"ask\",model=\"m\",le=\"+Inf\"} 1\n"
        "alloy_time_to_first_token_seconds_sum{command=\"ask\",model=\"m\"} 0.125\n"
        "alloy_time_to_first_token_seconds_count{command=\"ask\",model=\"m\"} 1\n"
        "# HELP alloy_tokens_total Tokens used by finished commands, by direction.\n"
        "# TYPE alloy_tokens_total counter\n"
        "alloy_tokens_total{command=\"ask\",model=\"m\",direction=\"cached\"} 2\n"
        "alloy_tokens_total{command=\"ask\",model=\"m\",direction=\"input\"} 10\n"
        "alloy_tokens_total{command=\"ask\",model=\"m\",direction=\"output\"} 5\n"
        "alloy_tokens_total{command=\"ask\",model=\"m\",direction=\"reasoning\"} 1\n"
        "# HELP alloy_retries_total Retries scheduled, by level (request or command).\n"
        "# TYPE alloy_retries_total counter\n"
        "alloy_retries_total{command=\"ask\",level=\"request\"} 1\n"
        "# HELP alloy_errors_total Commands that failed, by error kind.\n"
        "# TYPE alloy_errors_total counter\n"
        "alloy_errors_total{command=\"" + w + "\",kind=\"timeout\"} 1\n"
        "# HELP alloy_tool_calls_total Tool calls finished, by outcome.\n"
        "# TYPE alloy_tool_calls_total counter\n"
        "alloy_tool_calls_total{tool=\"add\",outcome=\"error\"} 1\n"
        "alloy_tool_calls_total{tool=\"add\",outcome=\"ok\"} 1\n"
        "# HELP alloy_tool_failures_total Tool calls that failed, by failed contract (empty when none).\n"
        "# TYPE alloy_tool_failures_total counter\n"
        "alloy_tool_failures_total{tool=\"add\",contract=\"b must be non-negative\"} 1\n";
    CHECK(metrics.prometheus() == expected);
}

TEST_CASE("metrics: empty registry still declares every family", "[observe]") {
    Metrics metrics;
    const auto text = metrics.prometheus();
    for (const char* family : {"alloy_commands_total", "alloy_command_duration_seconds", "alloy_commands_in_flight",
                               "alloy_requests_total", "alloy_request_duration_seconds",
                               "alloy_time_to_first_token_seconds", "alloy_tokens_total", "alloy_retries_total",
                               "alloy_errors_total", "alloy_tool_calls_total", "alloy_tool_failures_total"}) {
        CHECK(text.find(std::string("# TYPE ") + family + " ") != std::string::npos);
    }
    // Default buckets span 5 ms to 60 s.
    metrics.on_event(make(EventType::stream_first_chunk, "ask"));
    const auto with_series = metrics.prometheus();
    CHECK(with_series.find("le=\"0.005\"") != std::string::npos);
    CHECK(with_series.find("le=\"60\"") != std::string::npos);
}

TEST_CASE("metrics: in-flight gauge follows command start and end", "[observe]") {
    Metrics metrics;
    for (int i = 0; i < 3; ++i) metrics.on_event(make(EventType::command_start, "a"));
    metrics.on_event(make(EventType::command_start, "b"));
    Event end = make(EventType::command_end, "a");
    end.outcome = "ok";
    metrics.on_event(end);
    auto s = metrics.snapshot();
    CHECK(s.gauge("alloy_commands_in_flight", {{"command", "a"}}) == 2);
    CHECK(s.gauge("alloy_commands_in_flight", {{"command", "b"}}) == 1);
    CHECK(metrics.prometheus().find("alloy_commands_in_flight{command=\"a\"} 2\n") != std::string::npos);
    metrics.on_event(end);
    metrics.on_event(end);
    CHECK(metrics.snapshot().gauge("alloy_commands_in_flight", {{"command", "a"}}) == 0);
}

TEST_CASE("metrics: snapshot as plain data", "[observe]") {
    Metrics metrics(MetricsOptions{.buckets = {0.1, 1}});
    feed_scenario(metrics);
    const auto s = metrics.snapshot();
    CHECK(s.counter("alloy_commands_total", {{"command", "ask"}, {"model", "m"}, {"outcome", "ok"}}) == 1);
    CHECK(s.counter("alloy_commands_total", {{"command", "ask"}, {"model", "m"}, {"outcome", "error"}}) == 0);
    CHECK(s.counter_sum("alloy_commands_total") == 2);
    CHECK(s.counter_sum("alloy_tokens_total", {{"direction", "input"}}) == 10);
    CHECK(s.counter_sum("alloy_requests_total", {{"provider", "openai"}}) == 2);
    CHECK(s.counter("alloy_errors_total", {{"command", weird}, {"kind", "timeout"}}) == 1);
    CHECK(s.counter("alloy_tool_failures_total", {{"tool", "add"}, {"contract", "b must be non-negative"}}) == 1);
    const HistogramData* h = s.histogram("alloy_request_duration_seconds", {{"provider", "openai"}, {"model", "m"}});
    REQUIRE(h != nullptr);
    CHECK(h->bounds == std::vector<double>{0.1, 1});
    CHECK(h->buckets == std::vector<std::uint64_t>{1, 2});
    CHECK(h->count == 2);
    CHECK(h->sum == Approx(0.5625));
    CHECK(s.histogram("alloy_request_duration_seconds", {{"provider", "anthropic"}, {"model", "m"}}) == nullptr);

    metrics.reset();
    CHECK(metrics.snapshot().counters.empty());
}

TEST_CASE("metrics: request status falls back to the error kind", "[observe]") {
    Metrics metrics;
    Event e = make(EventType::request_end, "ask");
    e.provider = "anthropic";
    e.outcome = "error";
    e.error_kind = ErrorKind::connection;
    metrics.on_event(e);
    CHECK(metrics.snapshot().counter("alloy_requests_total",
                                     {{"provider", "anthropic"}, {"model", "m"}, {"status", "connection"}}) == 1);
}

TEST_CASE("metrics: concurrent events are all counted", "[observe]") {
    Metrics metrics;
    constexpr int threads = 4, per_thread = 5000;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&metrics, t] {
            Event start = make(EventType::command_start, "c" + std::to_string(t % 2));
            Event end = make(EventType::command_end, start.command);
            end.outcome = "ok";
            end.duration = 3ms;
            end.usage.input_tokens = 2;
            for (int i = 0; i < per_thread; ++i) {
                metrics.on_event(start);
                metrics.on_event(end);
            }
        });
    }
    for (auto& w : workers) w.join();
    const auto s = metrics.snapshot();
    CHECK(s.counter_sum("alloy_commands_total") == threads * per_thread);
    CHECK(s.counter_sum("alloy_tokens_total") == 2u * threads * per_thread);
    CHECK(s.gauge("alloy_commands_in_flight", {{"command", "c0"}}) == 0);
    const auto* h = s.histogram("alloy_command_duration_seconds", {{"command", "c1"}, {"model", "m"}});
    REQUIRE(h);
    CHECK(h->count == 2u * per_thread);
    CHECK(h->buckets.front() == 2u * per_thread);  // 3 ms <= 5 ms
}
