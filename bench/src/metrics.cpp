#include "metrics.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace bench {

void Recorder::merge(const Recorder& o) {
    auto append = [](std::vector<double>& to, const std::vector<double>& from) {
        to.insert(to.end(), from.begin(), from.end());
    };
    append(e2el_ms, o.e2el_ms);
    append(request_ms, o.request_ms);
    append(ttft_ms, o.ttft_ms);
    append(itl_ms, o.itl_ms);
    append(tpot_ms, o.tpot_ms);
    ok += o.ok;
    failed += o.failed;
    requests += o.requests;
    failed_requests += o.failed_requests;
    input_tokens += o.input_tokens;
    output_tokens += o.output_tokens;
    for (const auto& [k, v] : o.errors) errors[k] += v;
    for (const auto& [k, v] : o.retries) retries[k] += v;
    if (first_error.empty()) first_error = o.first_error;
}

Distribution Distribution::of(std::vector<double> s) {
    Distribution d;
    d.count = s.size();
    if (s.empty()) return d;
    std::sort(s.begin(), s.end());
    // Nearest-rank percentiles on the sorted samples, as numpy's "lower" interpolation would not
    // overstate; with thousands of samples the choice of method is invisible.
    auto pct = [&](double p) {
        const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(s.size())));
        return s[std::min(s.size() - 1, rank == 0 ? 0 : rank - 1)];
    };
    d.mean = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
    d.p50 = pct(50);
    d.p90 = pct(90);
    d.p99 = pct(99);
    d.max = s.back();
    return d;
}

namespace {

double per(double value, double count) { return count > 0 ? value / count : 0; }

std::string kinds(const std::map<std::string, std::uint64_t>& m) {
    if (m.empty()) return "none";
    std::string out;
    for (const auto& [k, v] : m) {
        if (!out.empty()) out += ", ";
        out += k + "=" + std::to_string(v);
    }
    return out;
}

void row(const char* name, const Distribution& d) {
    if (d.count == 0) return;
    std::printf("  %-26s %9.3f %9.3f %9.3f %9.3f %9.3f %9zu\n", name, d.mean, d.p50, d.p90, d.p99, d.max, d.count);
}

void put(boost::json::object& o, const char* metric, const Distribution& d) {
    if (d.count == 0) return;
    const std::string m = metric;
    o["mean_" + m + "_ms"] = d.mean;
    o["median_" + m + "_ms"] = d.p50;
    o["p90_" + m + "_ms"] = d.p90;
    o["p99_" + m + "_ms"] = d.p99;
    o["max_" + m + "_ms"] = d.max;
}

}  // namespace

void print_table(const Report& r) {
    const auto& t = r.totals;
    const double done = static_cast<double>(t.ok + t.failed);
    std::printf("alloy-bench: scenario %s, %s, %d client thread%s, target %s (%s, model %s)\n", r.scenario.c_str(),
                r.mode.c_str(), r.threads, r.threads == 1 ? "" : "s", r.target.c_str(), r.provider.c_str(),
                r.model.c_str());
    std::printf("  commands              %llu ok, %llu failed (warm-up of %zu excluded)\n",
                static_cast<unsigned long long>(t.ok), static_cast<unsigned long long>(t.failed), r.warmup);
    std::printf("  duration              %.3f s\n", r.duration_s);
    std::printf("  request_throughput    %.1f commands/s\n", per(done, r.duration_s));
    std::printf("  provider requests/s   %.1f (%llu requests, %.2f per command, %llu failed)\n",
                per(static_cast<double>(t.requests), r.duration_s), static_cast<unsigned long long>(t.requests),
                per(static_cast<double>(t.requests), done), static_cast<unsigned long long>(t.failed_requests));
    std::printf("  output_throughput     %.1f tokens/s (%llu output, %llu input tokens)\n",
                per(static_cast<double>(t.output_tokens), r.duration_s),
                static_cast<unsigned long long>(t.output_tokens), static_cast<unsigned long long>(t.input_tokens));
    std::printf("  latency (ms)               %9s %9s %9s %9s %9s %9s\n", "mean", "p50", "p90", "p99", "max", "n");
    row("e2el (per command)", r.e2el);
    row("request (per request)", r.request);
    row("ttft", r.ttft);
    row("tpot", r.tpot);
    row("itl", r.itl);
    std::printf("  errors                %s\n", kinds(t.errors).c_str());
    if (!t.first_error.empty()) std::printf("  first error           %s\n", t.first_error.c_str());
    std::printf("  retries               %s\n", kinds(t.retries).c_str());
    std::printf("  client CPU            %.2f us/command, %.2f us/request (io threads, getrusage)\n",
                per(r.client_cpu_us, done), per(r.client_cpu_us, static_cast<double>(t.requests)));
    std::printf("  heap allocations      %.1f per command (client threads)\n",
                per(static_cast<double>(r.allocations), done));
    std::printf("  TCP connections       %llu opened while measuring, %llu since start\n",
                static_cast<unsigned long long>(r.connections_opened),
                static_cast<unsigned long long>(r.connections_total));
    if (r.mock_cpu_us >= 0)
        std::printf("  mock server CPU       %.2f us/request (%s)\n", per(r.mock_cpu_us, static_cast<double>(r.mock_requests)),
                    r.mock_in_process ? "in-process threads" : "external process, /proc");
    std::printf("  peak RSS              %.1f MiB (%s)\n", r.peak_rss_mib,
                r.mock_in_process ? "includes the in-process mock" : "client process");
    std::printf("  process CPU           %.1f ms (whole run, start-up included)\n", r.process_cpu_ms);
}

void print_json(const Report& r) {
    const auto& t = r.totals;
    const double done = static_cast<double>(t.ok + t.failed);
    boost::json::object o;
    o["scenario"] = r.scenario;
    o["mode"] = r.mode;
    o["target"] = r.target;
    o["provider"] = r.provider;
    o["model"] = r.model;
    o["concurrency"] = r.concurrency;
    if (r.rate > 0) o["request_rate"] = r.rate;
    o["threads"] = r.threads;
    o["warmup"] = r.warmup;
    o["duration"] = r.duration_s;
    o["completed"] = t.ok;
    o["failed"] = t.failed;
    o["requests"] = t.requests;
    o["failed_requests"] = t.failed_requests;
    o["request_throughput"] = per(done, r.duration_s);
    o["provider_request_throughput"] = per(static_cast<double>(t.requests), r.duration_s);
    o["output_throughput"] = per(static_cast<double>(t.output_tokens), r.duration_s);
    o["total_input_tokens"] = t.input_tokens;
    o["total_output_tokens"] = t.output_tokens;
    put(o, "e2el", r.e2el);
    put(o, "request_latency", r.request);
    put(o, "ttft", r.ttft);
    put(o, "tpot", r.tpot);
    put(o, "itl", r.itl);
    boost::json::object errors, retries;
    for (const auto& [k, v] : t.errors) errors[k] = v;
    for (const auto& [k, v] : t.retries) retries[k] = v;
    o["errors"] = std::move(errors);
    o["retries"] = std::move(retries);
    if (!t.first_error.empty()) o["first_error"] = t.first_error;
    o["client_cpu_us_per_command"] = per(r.client_cpu_us, done);
    o["client_cpu_us_per_request"] = per(r.client_cpu_us, static_cast<double>(t.requests));
    o["allocations_per_command"] = per(static_cast<double>(r.allocations), done);
    o["connections_opened"] = r.connections_opened;
    o["connections_opened_total"] = r.connections_total;
    if (r.mock_cpu_us >= 0) {
        o["mock_cpu_us_per_request"] = per(r.mock_cpu_us, static_cast<double>(r.mock_requests));
        o["mock_in_process"] = r.mock_in_process;
    }
    o["peak_rss_mib"] = r.peak_rss_mib;
    o["process_cpu_ms"] = r.process_cpu_ms;
    std::printf("%s\n", boost::json::serialize(o).c_str());
}

}  // namespace bench
