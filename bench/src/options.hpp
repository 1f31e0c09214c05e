// Command-line options of alloy-bench.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace bench {

/// What one command of the run does.
enum class Scenario { text, typed, tool, stream };

struct Options {
    Scenario scenario = Scenario::typed;

    // Load shape. Closed loop: `concurrency` workers, each starting its next command when the last ends.
    // Open loop: Poisson arrivals at `rate` per second, whatever is in flight.
    int concurrency = 16;
    std::optional<double> rate;              ///< arrivals per second (open loop)
    std::optional<std::size_t> commands;     ///< measured commands (default 1000 unless duration is set)
    std::optional<std::chrono::milliseconds> duration;  ///< measured phase length instead of a count
    std::size_t warmup = 100;                ///< commands run before measuring, excluded from figures
    int threads = 1;                         ///< client io_context threads (one io_context each)
    int max_connections = 0;                 ///< pool bound per origin and thread (0: concurrency per thread)

    // Target.
    bool mock = false;        ///< start alloy::mock::Server in this process
    int mock_threads = 1;
    int mock_delay_ms = 0;
    int mock_pid = 0;         ///< an external alloy-mock: read its CPU time from /proc to report its cost
    std::string url;          ///< base URL of the endpoint (with --mock: the in-process server)
    std::string provider = "openai-chat";
    std::string model;        ///< default: "mock-model" for the mock, else the settings' default
    std::string api_key;      ///< else the provider's usual environment variable
    std::optional<int> max_tokens;
    int request_retries = -1; ///< transport retries (-1: library default)
    int timeout_ms = 0;       ///< per-attempt timeout (0: none)

    // Output.
    bool json = false;
    std::optional<bool> progress;  ///< live progress line on stderr (default: when stderr is a terminal)
};

/// Parses argv; prints usage and exits on --help or on a malformed option (status 2).
Options parse_options(int argc, char** argv);

const char* to_string(Scenario s);

}  // namespace bench
