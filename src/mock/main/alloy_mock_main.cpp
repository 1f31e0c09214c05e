// alloy-mock: run the mock LLM provider server until SIGINT/SIGTERM.
#include "alloy/mock/server.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

namespace {

void usage(std::FILE* out) {
    std::fputs(
        "usage: alloy-mock [options]\n"
        "  --host ADDR            address to bind (default 127.0.0.1)\n"
        "  --port N               port (default 0: any free port)\n"
        "  --threads N            server threads (default 1)\n"
        "  --delay-ms N           delay before the headers of every model response\n"
        "  --chunk-delay-ms N     delay between stream chunks\n"
        "  --tls                  serve HTTPS with a generated test CA (see --ca-out)\n"
        "  --ca-out FILE          write the CA certificate (PEM) to FILE in TLS mode\n"
        "  --require-auth         OpenAI-style and Ollama paths demand 'Authorization: Bearer ...'\n"
        "  --max-recorded N       requests kept for GET /_mock/requests (default 256)\n"
        "Control endpoints: POST /_mock/faults, POST /_mock/reset, GET /_mock/stats, GET /_mock/requests\n",
        out);
}

long parse_number(std::string_view flag, const char* value, long min, long max) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < min || v > max) {
        std::fprintf(stderr, "alloy-mock: invalid value '%s' for %.*s (expected %ld..%ld)\n", value,
                     static_cast<int>(flag.size()), flag.data(), min, max);
        std::exit(2);
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    alloy::mock::ServerOptions options;
    std::string ca_out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "alloy-mock: %s needs a value\n", argv[i]);
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--host") options.host = value();
        else if (arg == "--port") options.port = static_cast<unsigned short>(parse_number(arg, value(), 0, 65535));
        else if (arg == "--threads") options.threads = static_cast<int>(parse_number(arg, value(), 1, 256));
        else if (arg == "--delay-ms") options.response_delay = std::chrono::milliseconds(parse_number(arg, value(), 0, 3'600'000));
        else if (arg == "--chunk-delay-ms") options.chunk_delay = std::chrono::milliseconds(parse_number(arg, value(), 0, 3'600'000));
        else if (arg == "--tls") options.tls = true;
        else if (arg == "--ca-out") ca_out = value();
        else if (arg == "--require-auth") options.require_auth = true;
        else if (arg == "--max-recorded") options.max_recorded_requests = static_cast<std::size_t>(parse_number(arg, value(), 0, 1'000'000));
        else if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "alloy-mock: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    // Block the stop signals before the server threads start, so only sigwait below receives them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    try {
        alloy::mock::Server server(options);
        if (options.tls && !ca_out.empty()) {
            std::ofstream out(ca_out, std::ios::binary | std::ios::trunc);
            out << server.ca_cert_pem();
            if (!out) {
                std::fprintf(stderr, "alloy-mock: cannot write %s\n", ca_out.c_str());
                return 1;
            }
        }
        std::printf("alloy-mock listening on %s\n", server.base_url().c_str());
        if (options.tls && !ca_out.empty()) std::printf("alloy-mock CA certificate written to %s\n", ca_out.c_str());
        std::fflush(stdout);
        int received = 0;
        sigwait(&signals, &received);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "alloy-mock: %s\n", e.what());
        return 1;
    }
    return 0;
}
