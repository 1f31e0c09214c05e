// Tracing: spans built from event pairs, exported in-memory or as OTLP/HTTP JSON.
//
// Tracer pairs each *_start event with the *_end event of the same span id (command → attempt →
// request / tool call; parent_span_id links them) and hands each completed span to a SpanExporter.
// Attributes follow the OpenTelemetry gen_ai conventions where they fit (`gen_ai.request.model`,
// `gen_ai.provider.name`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
// `gen_ai.response.finish_reasons`, `gen_ai.tool.name`, ...) plus `alloy.*` ones, `http.response.status_code`
// and `error.type`. A failed span has status error; a cancelled one keeps status unset.
#pragma once

#include <alloy/observe.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace alloy {

/// A span attribute value: string, integer, floating point, boolean or list of strings.
using AttributeValue = std::variant<std::string, std::int64_t, double, bool, std::vector<std::string>>;

/// One key/value attribute.
struct SpanAttribute {
    std::string key;
    AttributeValue value;
};

/// Span kind (numbers as in OTLP): requests to providers are `client`, the rest `internal`.
enum class SpanKind { internal = 1, client = 3 };

/// Span status (numbers as in OTLP).
enum class SpanStatus { unset = 0, ok = 1, error = 2 };

/// Something that happened inside a span (a retry was scheduled, the first chunk arrived, ...).
struct SpanEvent {
    std::string name;
    std::chrono::system_clock::time_point time;
    std::vector<SpanAttribute> attributes;
};

/// A completed span.
struct Span {
    std::string trace_id;        ///< 32 hex digits
    std::string span_id;         ///< 16 hex digits
    std::string parent_span_id;  ///< empty for a root span
    std::string name;            ///< "command NAME", "attempt N", "chat MODEL", "execute_tool TOOL"
    SpanKind kind = SpanKind::internal;
    std::chrono::system_clock::time_point start;
    std::chrono::system_clock::time_point end;
    std::vector<SpanAttribute> attributes;
    std::vector<SpanEvent> events;
    SpanStatus status = SpanStatus::unset;
    std::string status_message;  ///< the error message (credential shapes masked) when status is error

    /// The attribute named `key`, or nullptr.
    const AttributeValue* attribute(std::string_view key) const;
    /// Sets (replaces) an attribute.
    void set_attribute(std::string key, AttributeValue value);
};

/// Receives completed spans. Must be thread-safe and must not block: it is called from on_event.
class SpanExporter {
public:
    virtual ~SpanExporter() = default;
    virtual void export_spans(std::vector<Span> spans) = 0;
};

/// Keeps every exported span in memory (tests, or users who render spans themselves). Thread-safe.
class InMemorySpanExporter : public SpanExporter {
public:
    void export_spans(std::vector<Span> spans) override;
    /// A copy of the spans exported so far, in export order.
    std::vector<Span> spans() const;
    void clear();

private:
    mutable std::mutex mutex_;
    std::vector<Span> spans_;
};

/// Options of Tracer.
struct TracerOptions {
    /// Open spans kept while waiting for their end event; beyond it new spans are not tracked (and counted).
    std::size_t max_open_spans = 10000;
};

/// Turns start/end event pairs into spans and exports each as it completes. Thread-safe.
///
/// Events without a span id are ignored. An *_end whose start was never seen still yields a span
/// (its start is the end time minus the event's duration). retry_scheduled, stream_first_chunk,
/// stream_end and finalize become span events of the open span with their span id (or, failing that,
/// of their parent span).
class Tracer : public Observer {
public:
    /// Throws ConfigurationError when `exporter` is null.
    explicit Tracer(std::shared_ptr<SpanExporter> exporter, TracerOptions options = {});
    ~Tracer() override;

    void on_event(const Event& event) override;

    /// Spans started and not yet ended.
    std::size_t open_spans() const;
    /// Spans not tracked because max_open_spans was reached.
    std::size_t untracked_spans() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The W3C `traceparent` header value of the event's span: `00-<trace_id>-<span_id>-01`.
/// Empty when the event's ids are not valid W3C ids (32 and 16 lower-case hex digits, not all zero).
std::string traceparent(const Event& event);

/// Options of OtlpHttpExporter.
struct OtlpHttpExporterOptions {
    /// Collector base URL; spans are posted to `{endpoint}/v1/traces`.
    std::string endpoint = "http://localhost:4318";
    /// The `service.name` resource attribute.
    std::string service_name = "alloy";
    /// Extra request headers (e.g. authentication for a hosted collector). Never logged.
    std::vector<std::pair<std::string, std::string>> headers;
    /// Spans per POST.
    std::size_t max_batch_size = 512;
    /// Spans waiting to be sent; when full, new spans are dropped (and counted).
    std::size_t max_queue_size = 2048;
    /// A partial batch is sent once it has waited this long.
    std::chrono::milliseconds flush_interval{5000};
    /// Bound on each POST (connect, write, first byte).
    std::chrono::milliseconds timeout{10000};
};

/// Exports spans as OTLP/HTTP JSON (`POST {endpoint}/v1/traces`) from its own background thread and
/// io_context. export_spans() only enqueues (never blocks, never does I/O); a full queue drops spans.
/// Batches are sent when max_batch_size spans are waiting or when flush_interval passes. A failed POST
/// is reported through the log hook (warn) and its spans are counted as failed; there is no retry.
class OtlpHttpExporter : public SpanExporter {
public:
    /// Starts the background thread. Throws ConfigurationError for an endpoint that is not an http(s) URL.
    explicit OtlpHttpExporter(OtlpHttpExporterOptions options);
    /// Calls shutdown() with its default bound.
    ~OtlpHttpExporter() override;
    OtlpHttpExporter(const OtlpHttpExporter&) = delete;
    OtlpHttpExporter& operator=(const OtlpHttpExporter&) = delete;

    void export_spans(std::vector<Span> spans) override;

    /// Sends every queued span and stops the thread, waiting at most `bound`; what is still unsent then
    /// is abandoned (counted as dropped). Returns true when everything queued was posted. Idempotent;
    /// spans exported afterwards are dropped.
    bool shutdown(std::chrono::milliseconds bound = std::chrono::seconds(5));

    /// Counters. After shutdown(): submitted == exported + failed + dropped.
    struct Stats {
        std::size_t submitted = 0;  ///< spans passed to export_spans()
        std::size_t exported = 0;   ///< spans in POSTs answered with 2xx
        std::size_t failed = 0;     ///< spans in POSTs that failed (error status, connection, timeout)
        std::size_t dropped = 0;    ///< spans dropped: queue full, after shutdown, or abandoned by it
        std::size_t posts = 0;      ///< POSTs attempted
    };
    Stats stats() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// The OTLP/JSON `ExportTraceServiceRequest` body for `spans` (what OtlpHttpExporter posts).
std::string otlp_json(const std::vector<Span>& spans, std::string_view service_name);

}  // namespace alloy
