// Example 01: ask a free-text question.
//
// The smallest alloy program: set the process-wide defaults with alloy::configure() and ask. The
// provider here is the mock server, started in-process on a free loopback port and speaking the OpenAI
// Responses API, so the example runs offline. Against the real service you would configure only the
// model and export OPENAI_API_KEY.
//
// Shown: the blocking form (ask_sync) for plain code, per-call settings (system prompt, context), and
// the coroutine form (co_await alloy::ask) run on the global runtime's own thread with block_on().
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/json.hpp>

#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;

// The coroutine form: what a server handler or any other coroutine would write.
asio::awaitable<std::string> ask_twice() {
    std::string first = co_await alloy::ask("[[reply Bonjour]] Say hello in French.");
    std::string second = co_await alloy::ask("[[reply Hallo]] Say hello in German.");
    co_return first + " / " + second;
}

int main() {
    try {
        alloy::mock::Server server;  // 127.0.0.1, any free port, its own thread

        // Process-wide defaults. An explicit provider and base URL select the mock; no API key is needed
        // for a loopback address.
        alloy::configure({.model = "gpt-5-mini", .provider = "openai", .base_url = server.base_url() + "/v1"});

        // 1. Blocking form. The mock's scripted model answers "Mock reply: <the question>".
        const std::string answer = alloy::ask_sync("What is the capital of France?");
        std::cout << "answer: " << answer << "\n";

        // 2. Per-call settings: a system prompt, and context rendered as JSON after the question. The
        //    [[reply ...]] directive tells the mock exactly what to answer.
        const std::string city = alloy::ask_sync(
            "[[reply Paris]] Which city is the capital?",
            {.system = "Answer in one word.", .context = boost::json::object{{"country", "France"}}});
        std::cout << "answer with context: " << city << "\n";

        // What went over the wire: the Responses API carries the system prompt as "instructions".
        const auto sent = server.requests().back().body.as_object();
        std::cout << "system prompt sent: " << sent.at("instructions").as_string().c_str() << "\n";

        // 3. Coroutine form on the global runtime's background thread.
        std::cout << "coroutine answers: " << alloy::Runtime::global().block_on(ask_twice()) << "\n";

        const alloy::Usage usage = alloy::Runtime::global().total_usage();
        std::cout << "requests served: " << server.stats().requests << ", tokens in/out: " << usage.input_tokens
                  << "/" << usage.output_tokens << "\n";
        std::cout << "example 01 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 01 failed: " << e.what() << "\n";
        return 1;
    }
}
