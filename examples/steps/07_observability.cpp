// Example 07: observability — JSON log lines, Prometheus metrics and a trace.
//
// The engine reports every run as events (command, attempt, request and tool spans, retries, ...) to the
// observers attached to its Runtime. Three built-in observers turn them into:
//   * JsonLogObserver: one redacted JSON object per event per line (here written to stdout);
//   * Metrics: counters and latency histograms, rendered in the Prometheus text format;
//   * Tracer: spans (command -> attempt -> request / tool call) handed to a SpanExporter; the in-memory
//     exporter is used here, OtlpHttpExporter posts OTLP/JSON to a collector.
//
// The run: a command with one tool, and a 429 on the first request so a transport retry shows up in all
// three. Content capture is on (off by default) to show that the log masks e-mail addresses in prompts.
// Provider: the mock speaking Gemini generateContent.
#include <alloy/alloy.hpp>
#include <alloy/logging.hpp>
#include <alloy/metrics.hpp>
#include <alloy/mock/server.hpp>
#include <alloy/tracing.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/describe.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct StockArgs {
    std::string sku;
};
BOOST_DESCRIBE_STRUCT(StockArgs, (), (sku))

const auto stock = alloy::tool("stock_level", "Units in stock for a SKU", [](StockArgs) { return 42; });

const auto restock_advice = alloy::command(
    "restock_advice", [](const std::string& request) { return request; }, {.tools = std::vector<alloy::Tool>{stock}});

void print_metrics(const alloy::Metrics& metrics) {
    // The full text has HELP/TYPE lines and every histogram bucket; print the samples without buckets.
    std::istringstream text(metrics.prometheus());
    std::string line;
    while (std::getline(text, line)) {
        if (line.empty() || line[0] == '#' || line.find("_bucket{") != std::string::npos) continue;
        std::cout << "  " << line << "\n";
    }
}

void print_trace(const std::vector<alloy::Span>& spans) {
    std::map<std::string, std::vector<const alloy::Span*>> children;  // parent span id -> spans
    for (const auto& s : spans) children[s.parent_span_id].push_back(&s);
    std::function<void(const std::string&, int)> print = [&](const std::string& parent, int depth) {
        for (const alloy::Span* s : children[parent]) {
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(s->end - s->start).count();
            std::cout << "  " << std::string(depth * 2, ' ') << s->name << "  (" << us / 1000.0 << " ms";
            if (s->status == alloy::SpanStatus::error) std::cout << ", error: " << s->status_message;
            for (const auto& e : s->events) std::cout << ", event " << e.name;
            std::cout << ")\n";
            print(s->span_id, depth + 1);
        }
    };
    print("", 0);
}

int main() {
    try {
        alloy::mock::Server server;
        asio::io_context io;
        alloy::Runtime rt({.model = "gemini-2.5-flash",
                           .provider = "gemini",
                           .base_url = server.base_url(),
                           .api_key = "mock-key",
                           .backoff_initial = 20ms});

        // 1. JSON lines on stdout, every level (debug shows request and tool events), content included.
        rt.add_observer(alloy::json_log_observer({.level = alloy::LogLevel::debug, .log_content = true}));
        rt.capture_content(true);
        // 2. Metrics in memory.
        auto metrics = std::make_shared<alloy::Metrics>();
        rt.add_observer(metrics);
        // 3. Spans, kept in memory.
        auto spans = std::make_shared<alloy::InMemorySpanExporter>();
        rt.add_observer(std::make_shared<alloy::Tracer>(spans));

        alloy::mock::Fault rate_limited;  // the first request gets a 429 asking to retry after 50 ms
        rate_limited.status = 429;
        rate_limited.retry_after = 50ms;
        rate_limited.retry_after_in_ms = true;
        server.push_fault(rate_limited);
        std::cout << "JSON log:\n" << std::flush;
        auto done = asio::co_spawn(
            io, restock_advice.in(rt)("Should we reorder SKU-9? Reply to ops@example.com."), asio::use_future);
        io.run();
        std::cout << std::flush;
        const std::string answer = done.get();
        std::cout << "answer: " << answer << "\n";

        std::cout << "Prometheus metrics (without buckets):\n";
        print_metrics(*metrics);
        const alloy::MetricsSnapshot snap = metrics->snapshot();
        std::cout << "retries counted: " << snap.counter_sum("alloy_retries_total") << "\n";

        std::cout << "trace:\n";
        print_trace(spans->spans());
        std::cout << "example 07 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 07 failed: " << e.what() << "\n";
        return 1;
    }
}
