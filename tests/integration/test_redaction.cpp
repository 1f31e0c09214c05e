// API keys never reach a log line, an exception message, an event, metrics or exported spans — over the
// real HTTP path, for every auth style (Bearer, x-api-key, x-goog-api-key), with content logging on and
// the provider echoing the key back in its error message.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include "support/async_test.hpp"

#include <boost/describe.hpp>
#include <boost/json/serialize.hpp>

#include <catch2/catch.hpp>

#include <mutex>

using namespace std::chrono_literals;

namespace {

const std::string canary = "sk-alloy-canary-7f3e9a1b2c4d5e6f";
const std::string google_canary = "AIzaAlloyCanary7f3e9a1b2c4d5e6f0123456";

struct EchoArgs {
    std::string text;
};
BOOST_DESCRIBE_STRUCT(EchoArgs, (), (text))

/// Everything any observer or error produced, as text.
struct Collected {
    std::mutex m;
    std::string all;
    void add(std::string_view s) {
        std::lock_guard l(m);
        all.append(s);
        all.push_back('\n');
    }
};

struct EventText : alloy::Observer {
    Collected* out;
    explicit EventText(Collected* o) : out(o) {}
    void on_event(const alloy::Event& e) override {
        // Every string an event carries, unfiltered: what any custom observer could see.
        out->add(e.error_message + " " + e.reason + " " + e.request_id + " " + e.provider + " " + e.contract);
    }
};

void exercise(const std::string& provider, const std::string& key, const std::string& base_suffix) {
    alloy::mock::Server mock;
    Collected collected;
    auto exporter = std::make_shared<alloy::InMemorySpanExporter>();
    auto metrics = std::make_shared<alloy::Metrics>();
    {
        boost::asio::io_context ctx;
        alloy::Runtime rt(alloy::Settings{.provider = provider,
                                          .base_url = mock.base_url() + base_suffix,
                                          .api_key = key,
                                          .backoff_initial = 1ms,
                                          .backoff_max = 2ms});
        alloy::set_log_handler(alloy::LogLevel::trace, [&](alloy::LogLevel, std::string_view line) { collected.add(line); });
        alloy::JsonLogOptions opts;
        opts.level = alloy::LogLevel::trace;
        opts.log_content = true;
        rt.add_observer(alloy::json_log_observer(opts, [&](alloy::LogLevel, std::string_view line) { collected.add(line); }));
        rt.add_observer(std::make_shared<EventText>(&collected));
        rt.add_observer(metrics);
        rt.add_observer(std::make_shared<alloy::Tracer>(exporter));
        rt.capture_content(true);

        const auto echo = alloy::tool("echo", "Echo", [](EchoArgs a) { return a.text; });
        auto run = [&](alloy::Settings call, std::string prompt) -> boost::asio::awaitable<void> {
            try {
                // The answer itself is the caller's data (the model may quote the prompt): not checked.
                std::string out = co_await rt.ask(prompt, call);
                CHECK_FALSE(out.empty());
            } catch (const std::exception& e) {
                collected.add(e.what());
            }
        };
        // Success with a tool call whose arguments and prompt contain the key.
        alloy::test::run_on(ctx, run({.tools = std::vector<alloy::Tool>{echo}},
                                     "use " + key + " [[call echo {\"text\":\"" + key + "\"}]]"));
        // The provider rejects the key and echoes it back.
        mock.push_fault({.status = 401, .message = "Incorrect API key provided: " + key});
        alloy::test::run_on(ctx, run({}, "hello"));
        // A retried rate limit, then success.
        mock.push_fault({.status = 429, .retry_after = 1ms, .retry_after_in_ms = true});
        alloy::test::run_on(ctx, run({}, "again"));
        // A stream.
        auto stream_all = [&]() -> boost::asio::awaitable<void> {
            auto s = rt.ask_stream("stream please");
            std::size_t chunks = 0;
            while (auto chunk = co_await s.next()) ++chunks;
            CHECK(chunks > 1);
        };
        alloy::test::run_on(ctx, stream_all());
        alloy::set_log_handler(alloy::LogLevel::info, nullptr);
    }
    collected.add(metrics->prometheus());
    collected.add(alloy::otlp_json(exporter->spans(), "alloy-test"));
    INFO(provider);
    CHECK_FALSE(collected.all.empty());
    const auto leak = collected.all.find(key.substr(0, 20));
    INFO("around the leak: " << (leak == std::string::npos ? std::string("-")
                                                        : collected.all.substr(leak > 300 ? leak - 300 : 0, 400)));
    CHECK(collected.all.find(key) == std::string::npos);
    // Not even a recognisable piece of it.
    CHECK(collected.all.find(key.substr(0, 20)) == std::string::npos);
    CHECK(collected.all.find("Incorrect API key provided") != std::string::npos);  // the message itself survives
}

}  // namespace

TEST_CASE("API keys never reach logs, errors, events, metrics or spans", "[redaction]") {
    exercise("openai", canary, "/v1");
    exercise("openai-chat", canary, "/v1");
    exercise("anthropic", canary, "");
    exercise("gemini", google_canary, "");
}
