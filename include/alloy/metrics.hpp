// Metrics: counters, a gauge and latency histograms fed by events, rendered in the Prometheus text
// exposition format (0.0.4) or read as plain data. No external service is involved.
//
// Families (labels in braces):
//   alloy_commands_total{command,model,outcome}                   counter   one per command_end
//   alloy_command_duration_seconds{command,model}                 histogram command_end duration
//   alloy_commands_in_flight{command}                             gauge     +1 command_start, -1 command_end
//   alloy_requests_total{provider,model,status}                   counter   one per request_end; status is the
//                                                                           HTTP status, or the error kind (or
//                                                                           outcome) when no response arrived
//   alloy_request_duration_seconds{provider,model}                histogram request_end duration
//   alloy_time_to_first_token_seconds{command,model}              histogram stream_first_chunk duration
//   alloy_tokens_total{command,model,direction}                   counter   command_end usage; direction is
//                                                                           input, output, cached or reasoning
//   alloy_retries_total{command,level}                            counter   one per retry_scheduled
//   alloy_errors_total{command,kind}                              counter   command_end with outcome "error"
//   alloy_tool_calls_total{tool,outcome}                          counter   one per tool_end
//   alloy_tool_failures_total{tool,contract}                      counter   tool_end with an outcome other than
//                                                                           "ok"; contract is empty unless one failed
//
// Tokens are counted from command_end only (it carries the run's total), so requests are not counted twice.
#pragma once

#include <alloy/observe.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alloy {

/// Label name/value pairs in the family's declared order.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

/// One histogram series as data.
struct HistogramData {
    std::vector<double> bounds;          ///< upper bounds of the finite buckets, ascending (seconds)
    std::vector<std::uint64_t> buckets;  ///< cumulative counts per bound (observations <= bound)
    std::uint64_t count = 0;             ///< all observations (the +Inf bucket)
    double sum = 0;                      ///< sum of the observed values
};

/// A copy of every series, for code that wants numbers rather than text.
struct MetricsSnapshot {
    struct CounterSeries {
        std::string name;
        MetricLabels labels;
        std::uint64_t value = 0;
    };
    struct GaugeSeries {
        std::string name;
        MetricLabels labels;
        std::int64_t value = 0;
    };
    struct HistogramSeries {
        std::string name;
        MetricLabels labels;
        HistogramData data;
    };
    std::vector<CounterSeries> counters;
    std::vector<GaugeSeries> gauges;
    std::vector<HistogramSeries> histograms;

    /// Value of the counter `name` with exactly these labels, 0 when absent.
    std::uint64_t counter(std::string_view name, const MetricLabels& labels) const;
    /// Sum of the counter `name` over every series whose labels include all of `match`.
    std::uint64_t counter_sum(std::string_view name, const MetricLabels& match = {}) const;
    /// Value of the gauge `name` with exactly these labels, 0 when absent.
    std::int64_t gauge(std::string_view name, const MetricLabels& labels) const;
    /// The histogram `name` with exactly these labels, nullptr when absent.
    const HistogramData* histogram(std::string_view name, const MetricLabels& labels) const;
};

/// Options of Metrics.
struct MetricsOptions {
    /// Histogram bucket upper bounds in seconds (ascending; sorted and deduplicated if not).
    std::vector<double> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
};

/// An observer that keeps metrics in memory. Thread-safe; each event costs one short critical section
/// and no allocation once its label combination has been seen.
class Metrics : public Observer {
public:
    explicit Metrics(MetricsOptions options = {});
    ~Metrics() override;
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    void on_event(const Event& event) override;

    /// Every family in the Prometheus text exposition format 0.0.4 (HELP and TYPE lines, series sorted
    /// by label values, histograms as cumulative `_bucket{le=...}` with `+Inf`, `_sum` and `_count`).
    std::string prometheus() const;
    /// Every series as plain data.
    MetricsSnapshot snapshot() const;
    /// Forgets every series.
    void reset();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace alloy
