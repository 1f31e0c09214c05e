// Example 06: streaming an answer as it is generated.
//
// ask_stream() (and Command::stream()) return a TextStream: pull text chunks with `co_await next()`
// until it returns std::nullopt. Nothing is sent before the first next(). `next_sync()` is the blocking
// form for plain code: the stream then runs on the runtime's background thread.
//
// Provider: the mock speaking Ollama's native /api/chat (NDJSON lines). The mock waits 40 ms between
// chunks, so the timestamps show text arriving while the answer is still being produced.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <optional>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* story = "Once upon a time, a small coroutine waited patiently for its turn.";

long long ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
}

// Coroutine form: each chunk is printed the moment it arrives.
asio::awaitable<void> stream_story(alloy::Runtime& rt) {
    const auto started = std::chrono::steady_clock::now();
    const std::string prompt = std::string("Tell a one-line story. [[chunks 6]] [[reply ") + story + "]]";
    alloy::TextStream stream = rt.ask_stream(prompt);
    std::string text;
    int chunks = 0;
    for (;;) {
        std::optional<std::string> chunk = co_await stream.next();
        if (!chunk) break;
        ++chunks;
        text += *chunk;
        std::cout << "  +" << ms_since(started) << " ms  \"" << *chunk << "\"\n";
    }
    std::cout << "coroutine stream: chunks: " << chunks << ", complete: " << (text == story ? "yes" : "no")
              << ", tokens out: " << stream.usage().output_tokens << "\n";
}

int main() {
    try {
        alloy::mock::Server server({.chunk_delay = 40ms});
        asio::io_context io;
        alloy::Runtime rt({.model = "ollama:llama3.2", .provider = "ollama", .base_url = server.base_url()});

        auto done = asio::co_spawn(io, stream_story(rt), asio::use_future);
        io.run();
        done.get();

        // Blocking form, from plain code (never from a thread the stream itself needs).
        alloy::TextStream stream = rt.ask_stream("[[chunks 4]] [[reply one two three four]]");
        int chunks = 0;
        std::cout << "blocking stream:";
        while (std::optional<std::string> chunk = stream.next_sync()) {
            ++chunks;
            std::cout << " [" << *chunk << "]";
        }
        std::cout << "\nblocking stream: chunks: " << chunks << "\n";
        std::cout << "example 06 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 06 failed: " << e.what() << "\n";
        return 1;
    }
}
