// End to end: commands, tools, streams and errors through the real HTTP path (router, adapter,
// HttpProvider, pooled client) against the in-process mock provider, once per wire format.
#include "support/async_test.hpp"

#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>
#include <alloy/observe.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

namespace json = boost::json;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using alloy::CommandError;
using alloy::ErrorKind;
using alloy::Settings;
using alloy::mock::Fault;

// ---- Types the commands and tools use -------------------------------------------------------------

enum class Status { open, paid, overdue };
BOOST_DESCRIBE_ENUM(Status, open, paid, overdue)

struct Address {
    std::string city;
    std::string country;
};
BOOST_DESCRIBE_STRUCT(Address, (), (city, country))

struct LineItem {
    std::string sku;
    int qty;
    double price;
};
BOOST_DESCRIBE_STRUCT(LineItem, (), (sku, qty, price))

struct Invoice {
    std::string vendor;
    Address address;
    std::vector<LineItem> items;
    double total;
    Status status;
};
BOOST_DESCRIBE_STRUCT(Invoice, (), (vendor, address, items, total, status))

struct PriceArgs {
    std::string sku;
    int qty;
};
BOOST_DESCRIBE_STRUCT(PriceArgs, (), (sku, qty))

struct Quote {
    std::string sku;
    int cents;
};
BOOST_DESCRIBE_STRUCT(Quote, (), (sku, cents))

namespace {

// ---- One fixture per provider ---------------------------------------------------------------------

/// A wire format under test: how the router is told to reach it on the mock.
struct ProviderCase {
    std::string provider;     ///< Settings::provider
    std::string model;        ///< Settings::model
    std::string base_suffix;  ///< appended to the mock's base URL (the API prefix the adapter expects)
    std::string path;         ///< a fragment of the request path the adapter must use
};

const std::vector<ProviderCase>& all_providers() {
    static const std::vector<ProviderCase> cases{
        {"openai", "gpt-5-mini", "/v1", "/v1/responses"},
        {"openai-chat", "gpt-4o-mini", "/v1", "/v1/chat/completions"},
        {"anthropic", "claude-haiku-4-5", "", "/v1/messages"},
        {"gemini", "gemini-2.5-flash", "", "/v1beta/models/gemini-2.5-flash:"},
        {"ollama", "ollama:llama3.2", "", "/api/chat"},
    };
    return cases;
}

/// Records the events the tests assert on (retries, requests). Thread-safe.
class EventLog : public alloy::Observer {
public:
    void on_event(const alloy::Event& e) override {
        std::lock_guard lock(mutex_);
        events_.push_back(e);
    }
    std::vector<alloy::Event> of(alloy::EventType type) const {
        std::lock_guard lock(mutex_);
        std::vector<alloy::Event> out;
        for (const auto& e : events_)
            if (e.type == type) out.push_back(e);
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<alloy::Event> events_;
};

/// The mock, an io_context and a dedicated Runtime routed to one provider. Member order matters: the
/// Runtime (and its pooled connections) is destroyed before the io_context those sockets belong to.
struct E2E {
    ProviderCase pc;
    alloy::mock::Server server;
    asio::io_context io;
    alloy::Runtime rt;
    std::shared_ptr<EventLog> log = std::make_shared<EventLog>();

    explicit E2E(ProviderCase c, alloy::mock::ServerOptions options = {}) : pc(std::move(c)), server(options) {
        rt.set_defaults(settings());
        rt.add_observer(log);
    }

    /// Explicit provider + base URL, small backoffs so retries cost milliseconds.
    Settings settings() const {
        Settings s;
        s.provider = pc.provider;
        s.model = pc.model;
        s.base_url = server.base_url() + pc.base_suffix;
        s.api_key = "sk-e2e-test-key";
        s.timeout = 5s;
        s.backoff_initial = 1ms;
        s.backoff_max = 4ms;
        s.retry_after_max = 200ms;
        s.http.request_retries = 2;
        s.http.connect_timeout = 2s;
        s.http.first_byte_timeout = 5s;
        s.http.stream_idle_timeout = 5s;
        return s;
    }

    template <class T>
    T run(asio::awaitable<T> op) {
        return alloy::test::run_on(io, std::move(op));
    }

    /// Bodies of the model requests the mock recorded, oldest first.
    std::vector<json::value> bodies() const {
        std::vector<json::value> out;
        for (const auto& r : server.requests()) out.push_back(r.body);
        return out;
    }

    std::vector<alloy::Event> retries(const std::string& level) const {
        std::vector<alloy::Event> out;
        for (const auto& e : log->of(alloy::EventType::retry_scheduled))
            if (e.retry_level == level) out.push_back(e);
        return out;
    }
};

// ---- Named coroutines (no capturing coroutine lambdas) --------------------------------------------

asio::awaitable<std::string> ask_in(alloy::Runtime* rt, std::string prompt, Settings options) {
    std::string answer = co_await rt->ask(std::move(prompt), std::move(options));
    co_return answer;
}

/// Drains a stream into its chunks.
asio::awaitable<std::vector<std::string>> drain(std::shared_ptr<alloy::TextStream> stream) {
    std::vector<std::string> chunks;
    for (;;) {
        std::optional<std::string> chunk = co_await stream->next();
        if (!chunk) break;
        chunks.push_back(std::move(*chunk));
    }
    co_return chunks;
}

asio::awaitable<std::vector<std::string>> stream_in(alloy::Runtime* rt, std::string prompt, Settings options) {
    auto stream = std::make_shared<alloy::TextStream>(rt->ask_stream(std::move(prompt), std::move(options)));
    std::vector<std::string> chunks = co_await drain(stream);
    co_return chunks;
}

/// Drains a stream, keeping what arrived before it failed; rethrows the failure after recording it.
struct PartialStream {
    std::vector<std::string> chunks;
    std::exception_ptr error;
};
asio::awaitable<PartialStream> stream_until_error(alloy::Runtime* rt, std::string prompt) {
    PartialStream out;
    alloy::TextStream stream = rt->ask_stream(std::move(prompt));
    try {
        for (;;) {
            std::optional<std::string> chunk = co_await stream.next();
            if (!chunk) break;
            out.chunks.push_back(std::move(*chunk));
        }
    } catch (...) {
        out.error = std::current_exception();
    }
    co_return out;
}

template <class Cmd, class Arg>
asio::awaitable<typename std::invoke_result_t<Cmd, Arg>::value_type> call(Cmd cmd, Arg arg) {
    auto value = co_await cmd(std::move(arg));
    co_return value;
}

std::string joined(const std::vector<std::string>& chunks) {
    std::string s;
    for (const auto& c : chunks) s += c;
    return s;
}

// ---- The tool every provider runs: `require` rejects a non-positive quantity -------------------

const auto price_tool = alloy::tool("price", "Price in cents of qty units of a SKU",
                                    [](PriceArgs a) { return a.qty * 250; })
                            .require([](const PriceArgs& a) { return a.qty > 0; }, "qty must be positive");

constexpr const char* contract_text = "precondition of tool 'price' failed: qty must be positive";

/// A tool result as it travelled back to the model, read from a recorded request body.
struct SentResult {
    std::string content;
    bool flagged_error = false;  ///< the provider's own error marker (Anthropic is_error, Gemini "error")
};

std::string text_of(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : json::serialize(v); }

/// The tool results of the last tool turn in a request body, in that provider's wire shape.
std::vector<SentResult> sent_results(const std::string& provider, const json::value& body) {
    std::vector<SentResult> out;
    if (provider == "openai") {
        for (const auto& item : body.at("input").as_array())
            if (const auto* type = item.as_object().if_contains("type"); type && *type == "function_call_output")
                out.push_back({text_of(item.at("output")), false});
    } else if (provider == "openai-chat" || provider == "ollama") {
        for (const auto& m : body.at("messages").as_array())
            if (m.at("role") == "tool") out.push_back({text_of(m.at("content")), false});
    } else if (provider == "anthropic") {
        for (const auto& block : body.at("messages").as_array().back().at("content").as_array()) {
            if (block.at("type") != "tool_result") continue;
            const auto* err = block.as_object().if_contains("is_error");
            out.push_back({text_of(block.at("content")), err && err->as_bool()});
        }
    } else if (provider == "gemini") {
        for (const auto& part : body.at("contents").as_array().back().at("parts").as_array()) {
            const auto& response = part.at("functionResponse").at("response").as_object();
            if (const auto* err = response.if_contains("error")) out.push_back({text_of(*err), true});
            else out.push_back({text_of(response.at("output")), false});
        }
    }
    return out;
}

/// Which failure of the mock a provider reports as a permanent quota problem.
Fault quota_fault(const std::string& provider) {
    Fault f;
    f.status = 429;
    if (provider == "openai" || provider == "openai-chat") {
        f.error_type = "insufficient_quota";
        f.code = "insufficient_quota";
    } else if (provider == "anthropic") {
        f.code = "enforced_spend_limit_reached";
    } else {
        f.should_retry = false;  // Gemini and Ollama have no quota code: the server's own verdict
    }
    return f;
}

CommandError ask_error(E2E& t, std::string prompt = "hello") {
    try {
        t.run(ask_in(&t.rt, std::move(prompt), {}));
    } catch (const CommandError& e) {
        return e;
    }
    FAIL("expected a CommandError");
    throw std::logic_error("unreachable");
}

}  // namespace

// ---- Plain, typed, tools ---------------------------------------------------------------------------

TEST_CASE("ask returns the model's text through each provider", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    const std::string answer = t.run(ask_in(&t.rt, "Hello there, mock", {}));
    CHECK(answer == "Mock reply: Hello there, mock");
    const auto recorded = t.server.requests();
    REQUIRE(recorded.size() == 1);
    CHECK(recorded[0].target.find(pc.path) != std::string::npos);
}

TEST_CASE("typed commands parse a nested struct and a wrapped primitive through each provider", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);

    const auto extract = alloy::command<Invoice>(
                             "extract_invoice", [](std::string text) { return "Extract the invoice: " + text; })
                             .in(t.rt);
    const Invoice inv = t.run(call(extract, std::string("ACME GmbH, Berlin; 2 widgets at 1.50")));
    // The mock fills a schema deterministically: strings "x", numbers 1.5, integers 1, 2, ... in document
    // order, the first enumerator, one array item. Getting them back proves the schema went out and the
    // reply came back through every layer.
    CHECK(inv.vendor == "x");
    CHECK(inv.address.city == "x");
    CHECK(inv.address.country == "x");
    REQUIRE(inv.items.size() == 1);
    CHECK(inv.items[0].sku == "x");
    CHECK(inv.items[0].qty == 1);
    CHECK(inv.items[0].price == 1.5);
    CHECK(inv.total == 1.5);
    CHECK(inv.status == Status::open);

    const auto count = alloy::command<int>("count_words", [](std::string text) { return "Count the words: " + text; })
                           .in(t.rt);
    const int n = t.run(call(count, std::string("one two three")));
    CHECK(n == 1);  // {"value": 1} unwrapped
    CHECK(t.server.requests().size() == 2);
}

TEST_CASE("two parallel tool calls, one failing its require contract, then the final answer", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);

    const auto quote = alloy::command("quote", [](std::string text) { return text; }, {.tools = {{price_tool}}}).in(t.rt);
    const std::string answer = t.run(call(quote, std::string(R"(Price these. [[call price {"sku":"A-1","qty":2}]] )"
                                                                 R"([[call price {"sku":"B-2","qty":0}]])")));
    CHECK(answer == std::string("Tool results: 500, ") + contract_text);

    const auto bodies = t.bodies();
    REQUIRE(bodies.size() == 2);
    const std::vector<SentResult> results = sent_results(pc.provider, bodies[1]);
    REQUIRE(results.size() == 2);
    CHECK(results[0].content == "500");
    CHECK_FALSE(results[0].flagged_error);
    CHECK(results[1].content == contract_text);
    if (pc.provider == "anthropic" || pc.provider == "gemini") CHECK(results[1].flagged_error);

    const auto tools_ended = t.log->of(alloy::EventType::tool_end);
    REQUIRE(tools_ended.size() == 2);
    int failed = 0;
    for (const auto& e : tools_ended)
        if (e.outcome == "error") {
            ++failed;
            CHECK(e.contract == "qty must be positive");
        }
    CHECK(failed == 1);
}

// ---- Streams -------------------------------------------------------------------------------------

TEST_CASE("ask_stream delivers the answer in several chunks through each provider", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    const auto chunks = t.run(stream_in(&t.rt, "[[reply Streams arrive piece by piece]] [[chunks 4]]", {}));
    CHECK(chunks.size() >= 2);
    CHECK(joined(chunks) == "Streams arrive piece by piece");
    const auto recorded = t.server.requests();
    REQUIRE(recorded.size() == 1);
    CHECK(recorded[0].target.find(pc.path) != std::string::npos);
    if (pc.provider == "gemini") CHECK(recorded[0].target.find(":streamGenerateContent") != std::string::npos);
}

TEST_CASE("streams with tools run the calls between turns, or are refused by Ollama", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    Settings with_tools;
    with_tools.tools = std::vector<alloy::Tool>{price_tool};
    const std::string prompt = R"(Quote [[call price {"sku":"A-1","qty":3}]])";

    if (pc.provider == "ollama") {
        CHECK_THROWS_AS(t.run(stream_in(&t.rt, prompt, with_tools)), alloy::ConfigurationError);
        CHECK(t.server.requests().empty());
        return;
    }
    const auto chunks = t.run(stream_in(&t.rt, prompt, with_tools));
    CHECK(joined(chunks) == "Tool results: 750");
    const auto bodies = t.bodies();
    REQUIRE(bodies.size() == 2);
    const auto results = sent_results(pc.provider, bodies[1]);
    REQUIRE(results.size() == 1);
    CHECK(results[0].content == "750");
}

TEST_CASE("an error event inside a 200 stream raises CommandError(stream)", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    Fault f;
    f.stream_error_event = true;
    t.server.push_fault(f);
    const PartialStream got = t.run(stream_until_error(&t.rt, "[[reply one two three four five]] [[chunks 5]]"));
    REQUIRE(got.error);
    try {
        std::rethrow_exception(got.error);
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::stream);
    }
    CHECK(joined(got.chunks) != "one two three four five");
}

TEST_CASE("a stream cut mid-way raises instead of returning a short answer", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    Fault f;
    f.truncate_stream_after = 2;
    t.server.push_fault(f);
    const PartialStream got = t.run(stream_until_error(&t.rt, "[[reply one two three four five six]] [[chunks 6]]"));
    REQUIRE(got.error);
    try {
        std::rethrow_exception(got.error);
    } catch (const CommandError& e) {
        CHECK(e.kind() == ErrorKind::stream);
    }
    CHECK(joined(got.chunks).size() < std::string("one two three four five six").size());
}

// ---- Error classes -------------------------------------------------------------------------------

TEST_CASE("permanent statuses fail at once with the provider's diagnostics", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    const int status = GENERATE(400, 401);
    INFO("provider " << pc.provider << ", status " << status);
    E2E t(pc);
    Fault f;
    f.status = status;
    f.message = "injected failure " + std::to_string(status);
    t.server.push_fault(f);
    const CommandError e = ask_error(t);
    CHECK(e.kind() == ErrorKind::provider_status);
    CHECK(e.diagnostics().http_status == status);
    CHECK(e.diagnostics().provider == pc.provider);
    CHECK(e.diagnostics().message == f.message);
    CHECK_FALSE(e.retryable());
    CHECK(t.server.requests().size() == 1);
    CHECK(t.retries("request").empty());
    CHECK(std::string(e.what()).find("sk-e2e-test-key") == std::string::npos);
}

TEST_CASE("429 with Retry-After is retried at request level after the server's delay", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    Fault f;
    f.status = 429;
    f.retry_after = 30ms;
    f.retry_after_in_ms = true;
    t.server.push_fault(f);
    CHECK(t.run(ask_in(&t.rt, "after the limit", {})) == "Mock reply: after the limit");
    CHECK(t.server.requests().size() == 2);
    const auto retries = t.retries("request");
    REQUIRE(retries.size() == 1);
    CHECK(retries[0].delay == 30ms);
    CHECK(t.retries("command").empty());
}

TEST_CASE("transient server errors are retried at request level", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    const int status = GENERATE(500, 503, 529);
    if (status == 529 && pc.provider != "anthropic") return;  // 529 "overloaded" is Anthropic's own status
    INFO("provider " << pc.provider << ", status " << status);
    E2E t(pc);
    Fault f;
    f.status = status;
    t.server.push_fault(f);
    CHECK(t.run(ask_in(&t.rt, "try again", {})) == "Mock reply: try again");
    CHECK(t.server.requests().size() == 2);
    const auto retries = t.retries("request");
    REQUIRE(retries.size() == 1);
    CHECK(retries[0].delay <= 4ms);  // jittered backoff within backoff_max, no server delay
}

TEST_CASE("retries stop after request_retries and report the last status", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    Fault f;
    f.status = 500;
    f.times = 3;
    t.server.push_fault(f);
    const CommandError e = ask_error(t);
    CHECK(e.kind() == ErrorKind::provider_status);
    CHECK(e.diagnostics().http_status == 500);
    CHECK(e.retryable());
    CHECK(t.server.requests().size() == 3);  // one try + request_retries (2)
}

TEST_CASE("a quota-style 429 is not retried", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    t.server.push_fault(quota_fault(pc.provider));
    const CommandError e = ask_error(t);
    CHECK(e.kind() == ErrorKind::provider_status);
    CHECK(e.diagnostics().http_status == 429);
    CHECK_FALSE(e.retryable());
    CHECK(t.server.requests().size() == 1);
    if (pc.provider == "openai" || pc.provider == "openai-chat") CHECK(e.diagnostics().error_code == "insufficient_quota");
    if (pc.provider == "anthropic") CHECK(e.diagnostics().error_code == "enforced_spend_limit_reached");
}

TEST_CASE("Gemini's RetryInfo delay is honoured (capped by retry_after_max)", "[e2e]") {
    E2E t(all_providers()[3]);
    REQUIRE(t.pc.provider == "gemini");
    Fault f;
    f.status = 429;  // no retry-after header: only the body's RetryInfo says "1s"
    t.server.push_fault(f);
    Settings cap;
    cap.retry_after_max = 60ms;
    CHECK(t.run(ask_in(&t.rt, "quota soon back", cap)) == "Mock reply: quota soon back");
    const auto retries = t.retries("request");
    REQUIRE(retries.size() == 1);
    // Backoff alone would wait at most backoff_max (4 ms): 60 ms is the server's 1 s, capped.
    CHECK(retries[0].delay == 60ms);
}

TEST_CASE("a connection dropped before the response headers is retried", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    Fault f;
    f.drop_connection = true;
    t.server.push_fault(f);
    CHECK(t.run(ask_in(&t.rt, "still there?", {})) == "Mock reply: still there?");
    CHECK(t.server.stats().faults_applied == 1);
    const auto retries = t.retries("request");
    REQUIRE(retries.size() == 1);
    CHECK(t.retries("command").empty());
}

// ---- The exact request body ---------------------------------------------------------------------

namespace {

const json::value price_parameters = json::parse(R"({"type":"object","properties":{"sku":{"type":"string"},
    "qty":{"type":"integer"}},"required":["sku","qty"],"additionalProperties":false})");
const json::value quote_schema = json::parse(R"({"type":"object","properties":{"sku":{"type":"string"},
    "cents":{"type":"integer"}},"required":["sku","cents"],"additionalProperties":false})");
constexpr const char* tool_description = "Price in cents of qty units of a SKU";

/// What each adapter must send for: system "Be exact.", user "Quote A-1", tool `price`, output Quote,
/// max_tokens 300.
json::value expected_body(const ProviderCase& pc) {
    const json::string user = "Quote A-1";
    if (pc.provider == "openai") {
        return json::object{
            {"model", "gpt-5-mini"},
            {"instructions", "Be exact."},
            {"input", json::array{json::object{{"role", "user"}, {"content", user}}}},
            {"tools", json::array{json::object{{"type", "function"},
                                               {"name", "price"},
                                               {"description", tool_description},
                                               {"parameters", price_parameters},
                                               {"strict", false}}}},
            {"text", json::object{{"format", json::object{{"type", "json_schema"},
                                                          {"name", "Quote"},
                                                          {"schema", quote_schema},
                                                          {"strict", true}}}}},
            {"max_output_tokens", 300},
            {"store", false}};
    }
    const json::array chat_tools{json::object{
        {"type", "function"},
        {"function", json::object{{"name", "price"}, {"description", tool_description}, {"parameters", price_parameters}}}}};
    if (pc.provider == "openai-chat") {
        return json::object{
            {"model", "gpt-4o-mini"},
            {"messages", json::array{json::object{{"role", "system"}, {"content", "Be exact."}},
                                     json::object{{"role", "user"}, {"content", user}}}},
            {"tools", chat_tools},
            {"response_format",
             json::object{{"type", "json_schema"},
                          {"json_schema", json::object{{"name", "Quote"}, {"schema", quote_schema}, {"strict", true}}}}},
            {"max_completion_tokens", 300}};
    }
    if (pc.provider == "anthropic") {
        return json::object{
            {"model", "claude-haiku-4-5"},
            {"max_tokens", 300},
            {"system", "Be exact."},
            {"messages", json::array{json::object{{"role", "user"}, {"content", user}}}},
            {"output_config", json::object{{"format", json::object{{"type", "json_schema"}, {"schema", quote_schema}}}}},
            {"tools", json::array{json::object{
                          {"name", "price"}, {"description", tool_description}, {"input_schema", price_parameters}}}}};
    }
    if (pc.provider == "gemini") {
        return json::object{
            {"systemInstruction", json::object{{"parts", json::array{json::object{{"text", "Be exact."}}}}}},
            {"contents", json::array{json::object{{"role", "user"}, {"parts", json::array{json::object{{"text", user}}}}}}},
            {"tools", json::array{json::object{{"functionDeclarations",
                                                json::array{json::object{{"name", "price"},
                                                                         {"description", tool_description},
                                                                         {"parametersJsonSchema", price_parameters}}}}}}},
            {"generationConfig", json::object{{"maxOutputTokens", 300},
                                              {"responseMimeType", "application/json"},
                                              {"responseJsonSchema", quote_schema}}}};
    }
    return json::object{  // ollama
        {"model", "llama3.2"},
        {"messages", json::array{json::object{{"role", "system"}, {"content", "Be exact."}},
                                 json::object{{"role", "user"}, {"content", user}}}},
        {"tools", chat_tools},
        {"format", quote_schema},
        {"options", json::object{{"num_predict", 300}}},
        {"stream", false}};
}

}  // namespace

TEST_CASE("a typed request with a tool has exactly the provider's wire shape", "[e2e]") {
    const ProviderCase pc = GENERATE(from_range(all_providers()));
    INFO("provider " << pc.provider);
    E2E t(pc);
    const auto quote = alloy::command<Quote>("quote", [](std::string sku) { return "Quote " + sku; },
                                             {.tools = {{price_tool}}, .system = "Be exact.", .max_tokens = 300})
                           .in(t.rt);
    const Quote q = t.run(call(quote, std::string("A-1")));
    CHECK(q.sku == "x");  // the mock called the tool first, then answered with schema-generated JSON

    const auto recorded = t.server.requests();
    REQUIRE(recorded.size() == 2);
    CHECK(recorded[0].target.find(pc.path) != std::string::npos);
    const json::value expected = expected_body(pc);
    INFO("sent:     " << json::serialize(recorded[0].body));
    INFO("expected: " << json::serialize(expected));
    CHECK(recorded[0].body == expected);
}

TEST_CASE("Anthropic models without native structured output answer through a forced output tool", "[e2e]") {
    E2E t({"anthropic", "claude-3-5-haiku-latest", "", "/v1/messages"});
    const auto quote = alloy::command<Quote>("quote", [](std::string sku) { return "Quote " + sku; }).in(t.rt);
    const Quote q = t.run(call(quote, std::string("A-1")));
    CHECK(q.sku == "x");
    CHECK(q.cents == 1);
    const auto bodies = t.bodies();
    REQUIRE(bodies.size() == 1);
    const auto& body = bodies[0].as_object();
    CHECK_FALSE(body.contains("output_config"));
    CHECK(body.at("tool_choice") == json::parse(R"({"type":"tool","name":"json_output"})"));
    REQUIRE(body.at("tools").as_array().size() == 1);
    CHECK(body.at("tools").at(0).at("name") == "json_output");
    CHECK(body.at("tools").at(0).at("input_schema") == quote_schema);
}

// ---- TLS -----------------------------------------------------------------------------------------

TEST_CASE("TLS: the mock's CA via http.ca_file verifies; without it the handshake fails verification", "[e2e]") {
    alloy::mock::ServerOptions options;
    options.tls = true;
    E2E t({"openai-chat", "gpt-4o-mini", "/v1", "/v1/chat/completions"}, options);
    REQUIRE(t.server.base_url().rfind("https://", 0) == 0);

    const auto ca_path = std::filesystem::temp_directory_path() /
                         ("alloy-e2e-ca-" + std::to_string(::getpid()) + ".pem");
    {
        std::ofstream out(ca_path);
        out << t.server.ca_cert_pem();
    }
    struct Remove {
        std::filesystem::path p;
        ~Remove() { std::filesystem::remove(p); }
    } remove{ca_path};

    SECTION("trusted CA") {
        Settings s;
        s.http.ca_file = ca_path.string();
        CHECK(t.run(ask_in(&t.rt, "over TLS", s)) == "Mock reply: over TLS");
    }
    SECTION("system store only") {
        const CommandError e = ask_error(t, "over TLS");
        CHECK(e.kind() == ErrorKind::connection);
        CHECK(e.diagnostics().phase == "tls_handshake");
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("certificate verify failed") != std::string::npos);
        CHECK(t.server.stats().requests == 0);
    }
}
