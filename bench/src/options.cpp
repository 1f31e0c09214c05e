#include "options.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace bench {
namespace {

void usage(std::FILE* out) {
    std::fputs(
        "usage: alloy-bench [options]\n"
        "Drives alloy commands through the public API and reports throughput, latency and client cost.\n"
        "\n"
        "Scenario and load:\n"
        "  --scenario S         text | typed | tool (two requests) | stream   (default typed)\n"
        "  --concurrency C      closed loop: C commands in flight (default 16)\n"
        "  --rate R             open loop: Poisson arrivals, R commands per second\n"
        "  --commands M         measured commands (default 1000)\n"
        "  --duration SEC       measure for SEC seconds instead of a count\n"
        "  --warmup N           commands run first and excluded from every figure (default 100)\n"
        "  --threads T          client io_context threads, one io_context each (default 1)\n"
        "  --max-connections N  connection pool bound per origin and thread (default: C per thread)\n"
        "\n"
        "Target:\n"
        "  --mock               start the mock provider server in this process\n"
        "  --mock-threads N     its threads (default 1)\n"
        "  --mock-delay-ms N    its delay before every response's headers\n"
        "  --mock-pid PID       an external alloy-mock: report its CPU per request (from /proc)\n"
        "  --url URL            endpoint base URL, e.g. http://127.0.0.1:8089/v1 or a vLLM server's /v1\n"
        "  --provider P         openai-chat (default; any OpenAI-compatible server), openai, anthropic,\n"
        "                       gemini, ollama\n"
        "  --model M            model id (default mock-model with --mock)\n"
        "  --api-key K          else OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY\n"
        "  --max-tokens N       max output tokens per request\n"
        "  --request-retries N  transport retries per request (default: library default, 2)\n"
        "  --timeout-ms N       per-attempt timeout of a command\n"
        "\n"
        "Output:\n"
        "  --json               machine-readable report on stdout\n"
        "  --progress / --no-progress   live progress line on stderr (default: when a terminal)\n"
        "\n"
        "Exit status: 0 when every command succeeded, 1 when any failed, 2 for bad options.\n",
        out);
}

[[noreturn]] void fail(const char* fmt, const char* a, const char* b = "") {
    std::fprintf(stderr, "alloy-bench: ");
    std::fprintf(stderr, fmt, a, b);
    std::fprintf(stderr, "\n");
    std::exit(2);
}

long integer(const char* flag, const char* value, long min, long max) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
        fail("invalid value '%s' for %s", value, flag);
    return v;
}

double positive(const char* flag, const char* value) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !(v > 0)) fail("invalid value '%s' for %s", value, flag);
    return v;
}

}  // namespace

const char* to_string(Scenario s) {
    switch (s) {
    case Scenario::text: return "text";
    case Scenario::typed: return "typed";
    case Scenario::tool: return "tool";
    case Scenario::stream: return "stream";
    }
    return "?";
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const char* flag = argv[i];
        const std::string_view arg = flag;
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) fail("%s needs a value", flag);
            return argv[++i];
        };
        if (arg == "--scenario") {
            const std::string_view s = value();
            if (s == "text") o.scenario = Scenario::text;
            else if (s == "typed") o.scenario = Scenario::typed;
            else if (s == "tool") o.scenario = Scenario::tool;
            else if (s == "stream") o.scenario = Scenario::stream;
            else fail("unknown scenario '%s' (text, typed, tool, stream)", argv[i]);
        } else if (arg == "--concurrency") o.concurrency = static_cast<int>(integer(flag, value(), 1, 1'000'000));
        else if (arg == "--rate") o.rate = positive(flag, value());
        else if (arg == "--commands") o.commands = static_cast<std::size_t>(integer(flag, value(), 1, 1'000'000'000));
        else if (arg == "--duration")
            o.duration = std::chrono::milliseconds(static_cast<long>(positive(flag, value()) * 1000));
        else if (arg == "--warmup") o.warmup = static_cast<std::size_t>(integer(flag, value(), 0, 1'000'000'000));
        else if (arg == "--threads") o.threads = static_cast<int>(integer(flag, value(), 1, 256));
        else if (arg == "--max-connections") o.max_connections = static_cast<int>(integer(flag, value(), 1, 1'000'000));
        else if (arg == "--mock") o.mock = true;
        else if (arg == "--mock-threads") o.mock_threads = static_cast<int>(integer(flag, value(), 1, 256));
        else if (arg == "--mock-delay-ms") o.mock_delay_ms = static_cast<int>(integer(flag, value(), 0, 3'600'000));
        else if (arg == "--mock-pid") o.mock_pid = static_cast<int>(integer(flag, value(), 1, 1 << 30));
        else if (arg == "--url") o.url = value();
        else if (arg == "--provider") o.provider = value();
        else if (arg == "--model") o.model = value();
        else if (arg == "--api-key") o.api_key = value();
        else if (arg == "--max-tokens") o.max_tokens = static_cast<int>(integer(flag, value(), 1, 10'000'000));
        else if (arg == "--request-retries") o.request_retries = static_cast<int>(integer(flag, value(), 0, 100));
        else if (arg == "--timeout-ms") o.timeout_ms = static_cast<int>(integer(flag, value(), 1, 86'400'000));
        else if (arg == "--json") o.json = true;
        else if (arg == "--progress") o.progress = true;
        else if (arg == "--no-progress") o.progress = false;
        else if (arg == "--help" || arg == "-h") {
            usage(stdout);
            std::exit(0);
        } else {
            std::fprintf(stderr, "alloy-bench: unknown option '%s'\n", flag);
            usage(stderr);
            std::exit(2);
        }
    }
    if (!o.mock && o.url.empty()) fail("give --mock or --url URL%s", "");
    if (o.mock && !o.url.empty()) fail("--mock and --url exclude each other%s", "");
    if (o.mock_delay_ms > 0 && !o.mock) fail("--mock-delay-ms needs --mock (alloy-mock has --delay-ms)%s", "");
    if (!o.commands && !o.duration) o.commands = 1000;
    return o;
}

}  // namespace bench
