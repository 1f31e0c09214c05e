// alloy-demo: a typed extraction, tools with contracts, ask, a streamed answer and a fan-out of
// concurrent commands, in one run.
//
// Offline by default: it starts the mock provider in-process on loopback and talks to it over real
// HTTP. With OPENAI_API_KEY (or ANTHROPIC_API_KEY, GEMINI_API_KEY) set it uses that provider instead;
// ALLOY_MODEL overrides the model. Options: --offline (ignore keys), --wire NAME (the mock's wire
// format: openai, openai-chat, anthropic, gemini, ollama).
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// ---- The types the model fills in ---------------------------------------------------------------

struct LineItem {
    std::string description;
    int quantity;
    double unit_price;
};
BOOST_DESCRIBE_STRUCT(LineItem, (), (description, quantity, unit_price))

struct Invoice {
    std::string vendor;
    std::string currency;
    double total;
    std::vector<LineItem> items;
};
BOOST_DESCRIBE_STRUCT(Invoice, (), (vendor, currency, total, items))

enum class Sentiment { positive, neutral, negative };
BOOST_DESCRIBE_ENUM(Sentiment, positive, neutral, negative)

struct ConvertArgs {
    double amount;
    std::string from;  // ISO 4217 code
    std::string to;
};
BOOST_DESCRIBE_STRUCT(ConvertArgs, (), (amount, from, to))

namespace {

// ---- Commands and a tool ------------------------------------------------------------------------

const std::map<std::string, double> usd_per_unit{{"USD", 1.0}, {"EUR", 1.08}, {"GBP", 1.27}, {"JPY", 0.0067}};

bool known(const std::string& code) { return usd_per_unit.count(code) != 0; }

// A tool: the model may call it; `require` guards the arguments, `ensure` the result. A failed
// contract goes back to the model as that call's result, so it can correct itself.
const auto convert_currency =
    alloy::tool("convert_currency", "Convert an amount of money between currencies (ISO 4217 codes)",
                [](ConvertArgs a) {
                    const double converted = a.amount * usd_per_unit.at(a.from) / usd_per_unit.at(a.to);
                    char text[64];
                    std::snprintf(text, sizeof text, "%.2f %s", converted, a.to.c_str());
                    return std::string(text);  // a string result reaches the model verbatim
                })
        .require([](const ConvertArgs& a) { return a.amount > 0; }, "amount must be positive")
        .require([](const ConvertArgs& a) { return known(a.from) && known(a.to); },
                 "currencies must be one of USD, EUR, GBP, JPY")
        .ensure([](const std::string& r) { return !r.empty() && r.front() != '-'; },
                "a converted amount is never negative");

const auto extract_invoice = alloy::command<Invoice>("extract_invoice", [](std::string text) {
    return "Extract the invoice from this text:\n" + text;
});

const auto classify = alloy::command<Sentiment>("classify_sentiment", [](std::string review) {
    return "Classify the sentiment of this product review: " + review;
});

const auto pay_in_usd = alloy::command(
    "pay_in_usd", [](std::string request) { return request; },
    {.tools = std::vector<alloy::Tool>{convert_currency}, .system = "Use the tools; answer in one short line."});

// ---- Where the demo sends its requests ----------------------------------------------------------

struct Backend {
    std::string description;  ///< the first line of output
    alloy::Settings settings;
    bool offline = false;
    std::unique_ptr<alloy::mock::Server> mock;
};

const char* env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
}

// The API prefix each adapter expects under the mock's base URL, and a model id for it.
struct Wire {
    const char* provider;
    const char* model;
    const char* prefix;
    const char* label;
};
constexpr Wire wires[] = {
    {"openai", "gpt-5-mini", "/v1", "OpenAI Responses"},
    {"openai-chat", "gpt-4o-mini", "/v1", "OpenAI Chat Completions"},
    {"anthropic", "claude-haiku-4-5", "", "Anthropic Messages"},
    {"gemini", "gemini-2.5-flash", "", "Gemini generateContent"},
    {"ollama", "ollama:llama3.2", "", "Ollama /api/chat"},
};

bool known_wire(std::string_view name) {
    for (const Wire& w : wires)
        if (name == w.provider) return true;
    return false;
}

Backend choose_backend(bool force_offline, const std::string& wire_name) {
    Backend b;
    const char* model = env("ALLOY_MODEL");
    struct Real {
        const char* key;
        const char* provider;
        const char* model;
        const char* label;
    };
    constexpr Real reals[] = {{"OPENAI_API_KEY", "openai", "gpt-5-mini", "OpenAI"},
                              {"ANTHROPIC_API_KEY", "anthropic", "claude-haiku-4-5", "Anthropic"},
                              {"GEMINI_API_KEY", "gemini", "gemini-2.5-flash", "Gemini"}};
    if (!force_offline) {
        for (const Real& r : reals) {
            if (!env(r.key)) continue;
            b.settings.provider = r.provider;
            b.settings.model = model ? model : r.model;
            b.settings.timeout = 120s;
            b.settings.retry = 2;
            b.description = std::string("provider: ") + r.label + ", model " + *b.settings.model + " (key from " +
                            r.key + ")";
            return b;
        }
    }
    const Wire* wire = &wires[0];
    for (const Wire& w : wires)
        if (wire_name == w.provider) wire = &w;
    b.offline = true;
    b.mock = std::make_unique<alloy::mock::Server>();
    b.settings.provider = wire->provider;
    b.settings.model = model ? model : wire->model;
    b.settings.base_url = b.mock->base_url() + wire->prefix;
    b.settings.api_key = "mock-key";  // the mock checks that Anthropic and Gemini requests carry one
    b.settings.timeout = 10s;
    b.description = std::string("provider: mock (offline; in-process alloy-mock at ") + b.mock->base_url() +
                    ", " + wire->label + " wire format, model " + *b.settings.model +
                    "; its scripted model fills schemas with placeholder values)";
    return b;
}

// ---- Printing -------------------------------------------------------------------------------------

double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string one_line(std::string s, std::size_t max = 110) {
    for (auto& c : s)
        if (c == '\n') c = ' ';
    if (s.size() > max) s = s.substr(0, max - 3) + "...";
    return s;
}

/// Keeps multi-line text inside the step's indentation.
std::string indented(const std::string& text) {
    std::string out;
    for (char c : text) out += c == '\n' ? std::string("\n    ") : std::string(1, c);
    return out;
}

/// Prints each tool call as it ends: an observer sees every event of the runtime.
class ToolPrinter : public alloy::Observer {
public:
    void on_event(const alloy::Event& e) override {
        if (e.type != alloy::EventType::tool_end) return;
        if (e.outcome == "ok") std::printf("    tool %s -> %s\n", e.tool.c_str(), e.content ? e.content->c_str() : "ok");
        else if (!e.contract.empty()) std::printf("    tool %s rejected by its contract: %s\n", e.tool.c_str(), e.contract.c_str());
        else std::printf("    tool %s failed: %s\n", e.tool.c_str(), one_line(e.error_message).c_str());
    }
};

// ---- The steps ------------------------------------------------------------------------------------

struct Demo {
    alloy::Runtime* rt;
    bool offline;
    int fanout;
    int passed = 0;
    int failed = 0;
};

asio::awaitable<void> typed_extraction(Demo* d) {
    std::printf("\n[1] typed extraction: extract_invoice(text) -> Invoice\n");
    const auto start = std::chrono::steady_clock::now();
    auto result = co_await extract_invoice.in(*d->rt).detailed(
        "ACME Tools GmbH, invoice 2024-117. 3 x cordless drill at 89.90 EUR, 2 x drill bit set at 19.50 EUR. "
        "Total due: 308.70 EUR.");
    const Invoice& inv = result.value;
    std::printf("    vendor \"%s\", total %.2f %s, %zu item(s)\n", inv.vendor.c_str(), inv.total, inv.currency.c_str(),
                inv.items.size());
    for (const auto& item : inv.items)
        std::printf("      %d x %s at %.2f\n", item.quantity, item.description.c_str(), item.unit_price);
    std::printf("    %.1f ms, %d request(s), %lld tokens\n", ms_since(start), result.info.requests,
                static_cast<long long>(result.info.usage.total()));
}

asio::awaitable<void> tools_with_contracts(Demo* d) {
    std::printf("\n[2] tools with contracts: two convert_currency calls in one turn\n");
    std::string request =
        "I owe 120 EUR and -5 GBP. Convert each amount to USD with convert_currency (both calls at once) and tell "
        "me the results.";
    // The mock is a scripted model: these directives make it ask for exactly these two calls.
    if (d->offline)
        request += R"( [[call convert_currency {"amount":120,"from":"EUR","to":"USD"}]])"
                   R"( [[call convert_currency {"amount":-5,"from":"GBP","to":"USD"}]])";
    auto result = co_await pay_in_usd.in(*d->rt).detailed(request);
    std::printf("    answer: %s\n", one_line(result.value).c_str());
    std::printf("    %d tool turn(s), %d request(s)\n", result.info.tool_turns, result.info.requests);
}

asio::awaitable<void> plain_ask(Demo* d) {
    std::printf("\n[3] ask: free text\n");
    std::string answer = co_await d->rt->ask("In one sentence: what does a typed LLM command give a C++ programmer?");
    std::printf("    %s\n", one_line(answer, 300).c_str());
}

asio::awaitable<void> streamed(Demo* d) {
    std::printf("\n[4] stream: ask_stream, printed chunk by chunk\n    ");
    const auto start = std::chrono::steady_clock::now();
    alloy::TextStream stream = d->rt->ask_stream("Write a haiku about compilers.");
    int chunks = 0;
    double first_ms = 0;
    for (;;) {
        std::optional<std::string> chunk = co_await stream.next();
        if (!chunk) break;
        if (chunks++ == 0) first_ms = ms_since(start);
        std::fputs(indented(*chunk).c_str(), stdout);
        std::fflush(stdout);
    }
    std::printf("\n    %d chunks, first after %.1f ms, done after %.1f ms\n", chunks, first_ms, ms_since(start));
}

asio::awaitable<Sentiment> classify_one(alloy::Runtime* rt, std::string review) {
    Sentiment s = co_await classify.in(*rt)(std::move(review));
    co_return s;
}

asio::awaitable<void> fan_out(Demo* d) {
    std::printf("\n[5] fan-out: %d concurrent classify_sentiment commands\n", d->fanout);
    const char* reviews[] = {"Arrived broken, support never answered.", "Does what it says.",
                             "Best purchase this year!", "Fine, but the manual is confusing."};
    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, classify_one(d->rt, ""), asio::deferred));
    std::vector<Op> ops;
    for (int i = 0; i < d->fanout; ++i) ops.push_back(asio::co_spawn(ex, classify_one(d->rt, reviews[i % 4]), asio::deferred));
    const auto start = std::chrono::steady_clock::now();
    auto [order, errors, sentiments] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                           .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    const double elapsed = ms_since(start);
    int ok = 0;
    std::map<std::string, int> counts;
    for (std::size_t i = 0; i < errors.size(); ++i) {
        if (errors[i]) continue;
        ++ok;
        ++counts[std::string(alloy::to_json(sentiments[i]).as_string())];
    }
    std::printf("    %d/%d ok in %.1f ms (%.0f commands/s):", ok, d->fanout, elapsed, d->fanout / (elapsed / 1000.0));
    for (const auto& [name, n] : counts) std::printf(" %s %d", name.c_str(), n);
    std::printf("\n");
    if (ok != d->fanout) throw std::runtime_error(std::to_string(d->fanout - ok) + " command(s) failed");
}

/// Runs one step; a failure is printed and counted, and the demo goes on.
asio::awaitable<void> step(Demo* d, asio::awaitable<void> (*fn)(Demo*)) {
    try {
        co_await fn(d);
        ++d->passed;
    } catch (const std::exception& e) {
        ++d->failed;
        std::printf("    FAILED: %s\n", one_line(e.what(), 400).c_str());
    }
}

asio::awaitable<void> run_demo(Demo* d) {
    co_await step(d, typed_extraction);
    co_await step(d, tools_with_contracts);
    co_await step(d, plain_ask);
    co_await step(d, streamed);
    co_await step(d, fan_out);
}

}  // namespace

int main(int argc, char** argv) {
    bool force_offline = false;
    std::string wire = "openai";
    const auto usage = [](std::FILE* out) {
        std::fprintf(out,
                     "usage: alloy-demo [--offline] [--wire openai|openai-chat|anthropic|gemini|ollama]\n"
                     "Offline against an in-process mock unless OPENAI_API_KEY, ANTHROPIC_API_KEY or\n"
                     "GEMINI_API_KEY is set; ALLOY_MODEL overrides the model.\n");
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--offline") {
            force_offline = true;
        } else if (arg == "--wire" && i + 1 < argc && known_wire(argv[i + 1])) {
            wire = argv[++i];
        } else if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    try {
        Backend backend = choose_backend(force_offline, wire);
        std::printf("alloy-cpp demo, %s\n", backend.description.c_str());

        asio::io_context io;  // declared before the runtime: pooled connections close before it goes
        alloy::Runtime rt(backend.settings);
        rt.capture_content(true);  // lets the observer print tool results
        rt.add_observer(std::make_shared<ToolPrinter>());

        Demo d{&rt, backend.offline, backend.offline ? 100 : 10};
        std::exception_ptr error;
        asio::co_spawn(io, run_demo(&d), [&](std::exception_ptr e) { error = e; });
        io.run();
        if (error) std::rethrow_exception(error);

        const alloy::Usage usage = rt.total_usage();
        std::printf("\ntokens used: %lld in, %lld out\n", static_cast<long long>(usage.input_tokens),
                    static_cast<long long>(usage.output_tokens));
        if (d.failed) {
            std::printf("demo finished: %d of %d steps failed\n", d.failed, d.passed + d.failed);
            return 1;
        }
        std::printf("demo finished: all %d steps ok\n", d.passed);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "alloy-demo: %s\n", e.what());
        return 1;
    }
}
