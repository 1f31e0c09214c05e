#include <alloy/config.hpp>
#include <alloy/errors.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace std::chrono_literals;
using alloy::ConfigurationError;
using alloy::Settings;

namespace {

/// A fake environment for settings_from_env.
struct Env {
    std::map<std::string, std::string> vars;
    std::function<const char*(const char*)> getter() const {
        return [this](const char* name) -> const char* {
            auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
    Settings read() const { return alloy::settings_from_env(getter()); }
};

}  // namespace

TEST_CASE("built-in defaults when nothing is set", "[config]") {
    const auto r = alloy::resolve(Settings{});
    CHECK(r.model == "gpt-5-mini");
    CHECK(r.max_tool_turns == 10);
    CHECK(r.auto_finalize_missing_output);
    CHECK(r.parallel_tools_max == 8);
    CHECK(r.retry == 1);
    CHECK(r.timeout == 0ms);
    CHECK(r.http.request_retries == 2);
    CHECK_FALSE(r.http.insecure_skip_tls_verify);
}

TEST_CASE("merge: upper layer wins, unset never clears, extra merges key-wise", "[config]") {
    Settings lower{.model = "lower-model", .system = "lower system", .temperature = 0.5, .retry = 3};
    lower.extra = {{"a", 1}, {"b", 2}};
    Settings upper{.model = "upper-model", .retry = 5};
    upper.extra = {{"b", 20}, {"c", 30}};
    const auto merged = alloy::merge(lower, upper);
    CHECK(*merged.model == "upper-model");
    CHECK(*merged.system == "lower system");  // unset in upper: kept
    CHECK(*merged.temperature == 0.5);
    CHECK(*merged.retry == 5);
    CHECK(merged.extra.at("a").as_int64() == 1);
    CHECK(merged.extra.at("b").as_int64() == 20);
    CHECK(merged.extra.at("c").as_int64() == 30);
}

TEST_CASE("merge: nested http settings merge field by field", "[config]") {
    Settings lower;
    lower.http.connect_timeout = 1s;
    lower.http.max_response_bytes = 100;
    Settings upper;
    upper.http.max_response_bytes = 200;
    const auto merged = alloy::merge(lower, upper);
    CHECK(*merged.http.connect_timeout == 1s);
    CHECK(*merged.http.max_response_bytes == 200);
}

TEST_CASE("resolve rejects values out of range", "[config]") {
    CHECK_THROWS_AS(alloy::resolve(Settings{.retry = 0}), ConfigurationError);
    CHECK_THROWS_AS(alloy::resolve(Settings{.max_tool_turns = -1}), ConfigurationError);
    CHECK_THROWS_AS(alloy::resolve(Settings{.parallel_tools_max = 0}), ConfigurationError);
    CHECK_THROWS_AS(alloy::resolve(Settings{.max_tokens = 0}), ConfigurationError);
    CHECK_THROWS_AS(alloy::resolve(Settings{.temperature = -1.0}), ConfigurationError);
    CHECK_THROWS_AS(alloy::resolve(Settings{.timeout = -1ms}), ConfigurationError);
    CHECK_THROWS_AS(alloy::resolve(Settings{.model = ""}), ConfigurationError);
    Settings s;
    s.http.connect_timeout = 0ms;
    CHECK_THROWS_AS(alloy::resolve(s), ConfigurationError);
}

TEST_CASE("every ALLOY_* environment variable is read", "[config][env]") {
    Env env;
    env.vars = {
        {"ALLOY_MODEL", "claude-sonnet-4-5"},
        {"ALLOY_TEMPERATURE", "0.25"},
        {"ALLOY_MAX_TOKENS", "256"},
        {"ALLOY_DEFAULT_SYSTEM", "Be brief."},
        {"ALLOY_RETRY", "4"},
        {"ALLOY_MAX_TOOL_TURNS", "3"},
        {"ALLOY_AUTO_FINALIZE_MISSING_OUTPUT", "false"},
        {"ALLOY_PARALLEL_TOOLS_MAX", "2"},
        {"ALLOY_EXTRA_JSON", R"({"top_p": 0.9, "seed": 7})"},
        {"ALLOY_BACKEND", "fake"},
        {"ALLOY_BASE_URL", "http://127.0.0.1:9000/v1"},
        {"ALLOY_TIMEOUT", "1.5"},
        {"ALLOY_DEADLINE", "2m"},
        {"ALLOY_REQUEST_RETRIES", "0"},
        {"ALLOY_CONNECT_TIMEOUT", "250ms"},
        {"ALLOY_FIRST_BYTE_TIMEOUT", "30s"},
        {"ALLOY_STREAM_IDLE_TIMEOUT", "5"},
        {"ALLOY_MAX_RESPONSE_BYTES", "1048576"},
        {"ALLOY_CA_FILE", "/etc/ssl/custom.pem"},
    };
    const auto s = env.read();
    CHECK(*s.model == "claude-sonnet-4-5");
    CHECK(*s.temperature == Approx(0.25));
    CHECK(*s.max_tokens == 256);
    CHECK(*s.system == "Be brief.");
    CHECK(*s.retry == 4);
    CHECK(*s.max_tool_turns == 3);
    CHECK(*s.auto_finalize_missing_output == false);
    CHECK(*s.parallel_tools_max == 2);
    CHECK(s.extra.at("top_p").as_double() == Approx(0.9));
    CHECK(s.extra.at("seed").as_int64() == 7);
    CHECK(*s.provider == "fake");
    CHECK(*s.base_url == "http://127.0.0.1:9000/v1");
    CHECK(*s.timeout == 1500ms);
    CHECK(*s.deadline == 120000ms);
    CHECK(*s.http.request_retries == 0);
    CHECK(*s.http.connect_timeout == 250ms);
    CHECK(*s.http.first_byte_timeout == 30000ms);
    CHECK(*s.http.stream_idle_timeout == 5000ms);
    CHECK(*s.http.max_response_bytes == 1048576u);
    CHECK(*s.http.ca_file == "/etc/ssl/custom.pem");
}

TEST_CASE("unset and blank environment variables leave settings unset", "[config][env]") {
    Env env;
    env.vars = {{"ALLOY_MODEL", "   "}};
    const auto s = env.read();
    CHECK_FALSE(s.model);
    CHECK_FALSE(s.retry);
    CHECK(s.extra.empty());
}

TEST_CASE("malformed environment values are ConfigurationErrors naming the variable", "[config][env]") {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"ALLOY_TEMPERATURE", "hot"},
        {"ALLOY_TEMPERATURE", "7"},
        {"ALLOY_MAX_TOKENS", "12abc"},
        {"ALLOY_MAX_TOKENS", "0"},
        {"ALLOY_RETRY", "-1"},
        {"ALLOY_MAX_TOOL_TURNS", "many"},
        {"ALLOY_AUTO_FINALIZE_MISSING_OUTPUT", "maybe"},
        {"ALLOY_PARALLEL_TOOLS_MAX", "1.5"},
        {"ALLOY_EXTRA_JSON", "{not json"},
        {"ALLOY_EXTRA_JSON", "[1,2]"},
        {"ALLOY_TIMEOUT", "soon"},
        {"ALLOY_DEADLINE", "-3"},
        {"ALLOY_REQUEST_RETRIES", "x"},
        {"ALLOY_CONNECT_TIMEOUT", "1h"},
        {"ALLOY_FIRST_BYTE_TIMEOUT", ""},  // blank: unset, not an error (checked below)
        {"ALLOY_STREAM_IDLE_TIMEOUT", "ms"},
        {"ALLOY_MAX_RESPONSE_BYTES", "big"},
    };
    for (const auto& [name, value] : bad) {
        Env env;
        env.vars = {{name, value}};
        if (value.empty()) {
            CHECK_NOTHROW(env.read());
            continue;
        }
        INFO(name << "=" << value);
        try {
            (void)env.read();
            FAIL("no error for " << name);
        } catch (const ConfigurationError& e) {
            CHECK_THAT(e.what(), Catch::Contains(name));
        }
    }
}

TEST_CASE("boolean environment spellings", "[config][env]") {
    for (const auto& [text, expected] : std::vector<std::pair<std::string, bool>>{
             {"1", true}, {"TRUE", true}, {"yes", true}, {"on", true}, {"0", false}, {"False", false}, {"no", false}, {"off", false}}) {
        Env env;
        env.vars = {{"ALLOY_AUTO_FINALIZE_MISSING_OUTPUT", text}};
        CHECK(*env.read().auto_finalize_missing_output == expected);
    }
}

TEST_CASE("configure() sets the process-wide layer", "[config]") {
    alloy::configure(Settings{.model = "configured-model", .retry = 2});
    CHECK(*alloy::configured().model == "configured-model");
    CHECK(*alloy::configured().retry == 2);
    alloy::configure(Settings{});
    CHECK_FALSE(alloy::configured().model);
}

TEST_CASE("retry_on_kinds matches CommandError kinds only", "[config]") {
    auto pred = alloy::retry_on_kinds({alloy::ErrorKind::timeout});
    CHECK(pred(alloy::CommandError(alloy::ErrorKind::timeout, "t")));
    CHECK_FALSE(pred(alloy::CommandError(alloy::ErrorKind::provider_status, "p")));
    CHECK_FALSE(pred(std::runtime_error("x")));
}
