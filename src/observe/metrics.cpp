// Metrics: small ordered maps per family under one mutex. Lookups use string_view keys (transparent
// comparator), so a label combination allocates only the first time it is seen.
#include <alloy/metrics.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <mutex>

namespace alloy {
namespace {

/// Orders label-value tuples of any string-like element type (vector<string>, array<string_view, N>).
struct LabelValuesLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
            return std::string_view(x) < std::string_view(y);
        });
    }
};

using Values = std::vector<std::string>;

template <class T>
struct Family {
    std::string_view name;
    std::string_view help;
    std::vector<std::string_view> label_names;
    std::map<Values, T, LabelValuesLess> series;

    template <std::size_t N>
    T& at(const std::array<std::string_view, N>& values) {
        auto it = series.find(values);
        if (it == series.end()) it = series.emplace(Values(values.begin(), values.end()), T{}).first;
        return it->second;
    }
    MetricLabels labels(const Values& values) const {
        MetricLabels out;
        for (std::size_t i = 0; i < label_names.size() && i < values.size(); ++i)
            out.emplace_back(std::string(label_names[i]), values[i]);
        return out;
    }
};

struct Histogram {
    std::vector<std::uint64_t> per_bucket;  // not cumulative; sized bounds + 1 (the last is +Inf)
    std::uint64_t count = 0;
    double sum = 0;
};

std::string format_double(double value) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

template <class Int>
std::string_view format_int(Int value, char (&buffer)[24]) {
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string_view(buffer, static_cast<std::size_t>(result.ptr - buffer));
}

void append_escaped_label_value(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out.push_back(c);
    }
}

/// `{a="x",b="y"` (without the closing brace, so `le` can follow).
void append_labels_open(std::string& out, const std::vector<std::string_view>& names, const Values& values) {
    out.push_back('{');
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out.push_back(',');
        out.append(names[i]);
        out += "=\"";
        append_escaped_label_value(out, values[i]);
        out.push_back('"');
    }
}

void append_header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
    out += "# HELP ";
    out.append(name);
    out.push_back(' ');
    out.append(help);
    out += "\n# TYPE ";
    out.append(name);
    out.push_back(' ');
    out.append(type);
    out.push_back('\n');
}

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

struct Metrics::Impl {
    std::vector<double> bounds;
    mutable std::mutex mutex;

    Family<std::uint64_t> commands{"alloy_commands_total", "Commands finished, by outcome.", {"command", "model", "outcome"}, {}};
    Family<Histogram> command_duration{"alloy_command_duration_seconds", "Duration of whole commands in seconds.", {"command", "model"}, {}};
    Family<std::int64_t> in_flight{"alloy_commands_in_flight", "Commands currently running.", {"command"}, {}};
    Family<std::uint64_t> requests{"alloy_requests_total", "Provider requests finished, by HTTP status (or error kind without a response).", {"provider", "model", "status"}, {}};
    Family<Histogram> request_duration{"alloy_request_duration_seconds", "Duration of provider requests in seconds.", {"provider", "model"}, {}};
    Family<Histogram> ttft{"alloy_time_to_first_token_seconds", "Time from the start of a stream to its first text chunk in seconds.", {"command", "model"}, {}};
    Family<std::uint64_t> tokens{"alloy_tokens_total", "Tokens used by finished commands, by direction.", {"command", "model", "direction"}, {}};
    Family<std::uint64_t> retries{"alloy_retries_total", "Retries scheduled, by level (request or command).", {"command", "level"}, {}};
    Family<std::uint64_t> errors{"alloy_errors_total", "Commands that failed, by error kind.", {"command", "kind"}, {}};
    Family<std::uint64_t> tool_calls{"alloy_tool_calls_total", "Tool calls finished, by outcome.", {"tool", "outcome"}, {}};
    Family<std::uint64_t> tool_failures{"alloy_tool_failures_total", "Tool calls that failed, by failed contract (empty when none).", {"tool", "contract"}, {}};

    void observe(Histogram& h, double value) {
        if (h.per_bucket.empty()) h.per_bucket.assign(bounds.size() + 1, 0);
        const auto index = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin());
        ++h.per_bucket[index];
        ++h.count;
        h.sum += value;
    }

    HistogramData data(const Histogram& h) const {
        HistogramData d;
        d.bounds = bounds;
        d.count = h.count;
        d.sum = h.sum;
        std::uint64_t running = 0;
        for (std::size_t i = 0; i < bounds.size(); ++i) {
            running += i < h.per_bucket.size() ? h.per_bucket[i] : 0;
            d.buckets.push_back(running);
        }
        return d;
    }

    void on_event(const Event& e) {
        const std::string_view command = e.command, model = e.model;
        std::lock_guard lock(mutex);
        switch (e.type) {
        case EventType::command_start: ++in_flight.at(std::array{command}); break;
        case EventType::command_end: {
            --in_flight.at(std::array{command});
            const std::string_view outcome = e.outcome.empty() ? std::string_view("unknown") : std::string_view(e.outcome);
            ++commands.at(std::array{command, model, outcome});
            observe(command_duration.at(std::array{command, model}), seconds(e.duration));
            if (e.outcome == "error")
                ++errors.at(std::array{command, e.error_kind ? to_string(*e.error_kind) : std::string_view("other")});
            const auto add_tokens = [&](std::string_view direction, std::int64_t n) {
                if (n > 0) tokens.at(std::array{command, model, direction}) += static_cast<std::uint64_t>(n);
            };
            add_tokens("input", e.usage.input_tokens);
            add_tokens("output", e.usage.output_tokens);
            add_tokens("cached", e.usage.cached_tokens);
            add_tokens("reasoning", e.usage.reasoning_tokens);
            break;
        }
        case EventType::request_end: {
            char buffer[24];
            std::string_view status;
            if (e.http_status > 0)
                status = format_int(e.http_status, buffer);
            else if (e.error_kind)
                status = to_string(*e.error_kind);
            else
                status = e.outcome.empty() ? std::string_view("unknown") : std::string_view(e.outcome);
            ++requests.at(std::array{std::string_view(e.provider), model, status});
            observe(request_duration.at(std::array{std::string_view(e.provider), model}), seconds(e.duration));
            break;
        }
        case EventType::stream_first_chunk: observe(ttft.at(std::array{command, model}), seconds(e.duration)); break;
        case EventType::retry_scheduled: ++retries.at(std::array{command, std::string_view(e.retry_level)}); break;
        case EventType::tool_end: {
            const std::string_view outcome = e.outcome.empty() ? std::string_view("unknown") : std::string_view(e.outcome);
            ++tool_calls.at(std::array{std::string_view(e.tool), outcome});
            if (e.outcome != "ok") ++tool_failures.at(std::array{std::string_view(e.tool), std::string_view(e.contract)});
            break;
        }
        default: break;
        }
    }

    template <class T>
    static void render_scalar(std::string& out, const Family<T>& family, std::string_view type) {
        append_header(out, family.name, family.help, type);
        for (const auto& [values, value] : family.series) {
            out.append(family.name);
            append_labels_open(out, family.label_names, values);
            out += "} ";
            char buffer[24];
            out.append(format_int(value, buffer));
            out.push_back('\n');
        }
    }

    void render_histogram(std::string& out, const Family<Histogram>& family) const {
        append_header(out, family.name, family.help, "histogram");
        for (const auto& [values, h] : family.series) {
            const HistogramData d = data(h);
            char buffer[24];
            const auto bucket_line = [&](std::string_view le, std::uint64_t count) {
                out.append(family.name);
                out += "_bucket";
                append_labels_open(out, family.label_names, values);
                out += ",le=\"";
                out.append(le);
                out += "\"} ";
                out.append(format_int(count, buffer));
                out.push_back('\n');
            };
            for (std::size_t i = 0; i < d.bounds.size(); ++i) bucket_line(format_double(d.bounds[i]), d.buckets[i]);
            bucket_line("+Inf", d.count);
            out.append(family.name);
            out += "_sum";
            append_labels_open(out, family.label_names, values);
            out += "} ";
            out += format_double(d.sum);
            out.push_back('\n');
            out.append(family.name);
            out += "_count";
            append_labels_open(out, family.label_names, values);
            out += "} ";
            out.append(format_int(d.count, buffer));
            out.push_back('\n');
        }
    }
};

Metrics::Metrics(MetricsOptions options) : impl_(std::make_unique<Impl>()) {
    auto& b = options.buckets;
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    impl_->bounds = std::move(b);
}

Metrics::~Metrics() = default;

void Metrics::on_event(const Event& event) { impl_->on_event(event); }

std::string Metrics::prometheus() const {
    const Impl& m = *impl_;
    std::string out;
    out.reserve(4096);
    std::lock_guard lock(m.mutex);
    Impl::render_scalar(out, m.commands, "counter");
    m.render_histogram(out, m.command_duration);
    Impl::render_scalar(out, m.in_flight, "gauge");
    Impl::render_scalar(out, m.requests, "counter");
    m.render_histogram(out, m.request_duration);
    m.render_histogram(out, m.ttft);
    Impl::render_scalar(out, m.tokens, "counter");
    Impl::render_scalar(out, m.retries, "counter");
    Impl::render_scalar(out, m.errors, "counter");
    Impl::render_scalar(out, m.tool_calls, "counter");
    Impl::render_scalar(out, m.tool_failures, "counter");
    return out;
}

MetricsSnapshot Metrics::snapshot() const {
    const Impl& m = *impl_;
    MetricsSnapshot s;
    std::lock_guard lock(m.mutex);
    const auto counters = [&](const Family<std::uint64_t>& f) {
        for (const auto& [values, value] : f.series) s.counters.push_back({std::string(f.name), f.labels(values), value});
    };
    const auto histograms = [&](const Family<Histogram>& f) {
        for (const auto& [values, h] : f.series) s.histograms.push_back({std::string(f.name), f.labels(values), m.data(h)});
    };
    counters(m.commands);
    counters(m.requests);
    counters(m.tokens);
    counters(m.retries);
    counters(m.errors);
    counters(m.tool_calls);
    counters(m.tool_failures);
    for (const auto& [values, value] : m.in_flight.series)
        s.gauges.push_back({std::string(m.in_flight.name), m.in_flight.labels(values), value});
    histograms(m.command_duration);
    histograms(m.request_duration);
    histograms(m.ttft);
    return s;
}

void Metrics::reset() {
    std::lock_guard lock(impl_->mutex);
    for (auto* f : {&impl_->commands, &impl_->requests, &impl_->tokens, &impl_->retries, &impl_->errors,
                    &impl_->tool_calls, &impl_->tool_failures})
        f->series.clear();
    impl_->in_flight.series.clear();
    for (auto* f : {&impl_->command_duration, &impl_->request_duration, &impl_->ttft}) f->series.clear();
}

std::uint64_t MetricsSnapshot::counter(std::string_view name, const MetricLabels& labels) const {
    for (const auto& c : counters)
        if (c.name == name && c.labels == labels) return c.value;
    return 0;
}

std::uint64_t MetricsSnapshot::counter_sum(std::string_view name, const MetricLabels& match) const {
    std::uint64_t total = 0;
    for (const auto& c : counters) {
        if (c.name != name) continue;
        const bool all = std::all_of(match.begin(), match.end(), [&](const auto& wanted) {
            return std::find(c.labels.begin(), c.labels.end(), wanted) != c.labels.end();
        });
        if (all) total += c.value;
    }
    return total;
}

std::int64_t MetricsSnapshot::gauge(std::string_view name, const MetricLabels& labels) const {
    for (const auto& g : gauges)
        if (g.name == name && g.labels == labels) return g.value;
    return 0;
}

const HistogramData* MetricsSnapshot::histogram(std::string_view name, const MetricLabels& labels) const {
    for (const auto& h : histograms)
        if (h.name == name && h.labels == labels) return &h.data;
    return nullptr;
}

}  // namespace alloy
