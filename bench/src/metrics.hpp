// What a run measures, and the human and JSON reports. Metric names follow vLLM's benchmark_serving
// (request_throughput, output_throughput, ttft, tpot, itl, e2el) and llmperf where they overlap.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bench {

/// Samples and counters of one client thread (no locking: each thread owns one).
struct Recorder {
    bool on = false;  ///< false during warm-up: nothing is recorded
    std::vector<double> e2el_ms;     ///< per command: start to result (streams: to the last chunk)
    std::vector<double> request_ms;  ///< per provider request: send to reply (streams: to the end)
    std::vector<double> ttft_ms;     ///< streams: command start to first text chunk
    std::vector<double> itl_ms;      ///< streams: gap between consecutive text chunks
    std::vector<double> tpot_ms;     ///< streams: (e2el - ttft) / (output tokens - 1), per command
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    std::uint64_t requests = 0;
    std::uint64_t failed_requests = 0;
    std::uint64_t input_tokens = 0;
    std::uint64_t output_tokens = 0;
    std::map<std::string, std::uint64_t> errors;   ///< failed commands by error kind
    std::map<std::string, std::uint64_t> retries;  ///< retries by level and cause ("request:http_429", ...)
    std::string first_error;

    void merge(const Recorder& other);
};

/// Percentiles of a set of samples (milliseconds).
struct Distribution {
    std::size_t count = 0;
    double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
    static Distribution of(std::vector<double> samples);
};

/// Everything the report shows.
struct Report {
    std::string scenario, mode, target, provider, model;
    int concurrency = 0;
    double rate = 0;  ///< open loop arrivals per second (0: closed loop)
    int threads = 0;
    std::size_t warmup = 0;
    double duration_s = 0;
    Recorder totals;
    Distribution e2el, request, ttft, itl, tpot;
    double client_cpu_us = 0;     ///< CPU of the client io threads over the measured phase
    double process_cpu_ms = 0;    ///< whole process, start to exit (start-up included)
    double mock_cpu_us = -1;      ///< mock server CPU over the measured phase (-1: unknown)
    std::uint64_t mock_requests = 0;
    std::uint64_t allocations = 0;
    std::uint64_t connections_opened = 0;  ///< during the measured phase
    std::uint64_t connections_total = 0;   ///< since start (warm-up included)
    double peak_rss_mib = 0;
    bool mock_in_process = false;
};

void print_table(const Report& r);
void print_json(const Report& r);

}  // namespace bench
