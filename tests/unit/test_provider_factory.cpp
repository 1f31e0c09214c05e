#include "providers/factory.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace alloy;
using namespace alloy::providers;

namespace {

struct FakeEnv {
    std::map<std::string, std::string> vars;
    std::function<const char*(const char*)> fn() const {
        return [this](const char* name) -> const char* {
            auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

ResolvedSettings with_model(std::string model) {
    ResolvedSettings s;
    s.model = std::move(model);
    return s;
}

std::string config_error(const ResolvedSettings& s, const FakeEnv& env) {
    try {
        route(s, env.fn());
    } catch (const ConfigurationError& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("router: model prefixes pick the adapter, keys and default base URLs", "[providers]") {
    FakeEnv env{{{"OPENAI_API_KEY", "sk-o"}, {"ANTHROPIC_API_KEY", "sk-a"}, {"GEMINI_API_KEY", "g-1"}}};
    struct Case { const char* model; const char* provider; const char* base; const char* key; };
    for (const auto& c : {Case{"gpt-5-mini", "openai", "https://api.openai.com/v1", "sk-o"},
                          Case{"o1", "openai", "https://api.openai.com/v1", "sk-o"},
                          Case{"o3-mini", "openai", "https://api.openai.com/v1", "sk-o"},
                          Case{"o4-mini", "openai", "https://api.openai.com/v1", "sk-o"},
                          Case{"claude-sonnet-4-5", "anthropic", "https://api.anthropic.com", "sk-a"},
                          Case{"gemini-2.5-flash", "gemini", "https://generativelanguage.googleapis.com", "g-1"},
                          Case{"ollama:llama3.2", "ollama", "http://localhost:11434", ""}}) {
        INFO(c.model);
        const auto r = route(with_model(c.model), env.fn());
        CHECK(r.provider == c.provider);
        CHECK(r.endpoint.base_url == c.base);
        CHECK(r.endpoint.api_key == c.key);
        CHECK(r.endpoint.model == c.model);
        CHECK(make_adapter(r)->name() == c.provider);
    }
}

TEST_CASE("router: explicit provider, base URL overrides and GOOGLE_API_KEY fallback", "[providers]") {
    FakeEnv env{{{"GOOGLE_API_KEY", "g-2"}, {"OPENAI_BASE_URL", "https://proxy.example/v1/"},
                 {"OPENAI_API_KEY", "sk-o"}, {"OLLAMA_HOST", "0.0.0.0:11500"}}};
    CHECK(route(with_model("gemini-2.5-pro"), env.fn()).endpoint.api_key == "g-2");
    CHECK(route(with_model("gpt-4.1"), env.fn()).endpoint.base_url == "https://proxy.example/v1");
    CHECK(route(with_model("ollama:qwen3"), env.fn()).endpoint.base_url == "http://localhost:11500");

    auto s = with_model("meta-llama/Llama-3.1-8B-Instruct");
    s.provider = "openai-chat";
    s.base_url = "http://10.0.0.5:8000/v1";
    const auto chat = route(s, FakeEnv{}.fn());  // a custom compatible server needs no key
    CHECK(chat.provider == "openai-chat");
    CHECK(chat.endpoint.api_key.empty());
    CHECK(make_adapter(chat)->name() == "openai-chat");

    auto explicit_key = with_model("claude-opus-4-6");
    explicit_key.api_key = "from-settings";
    const FakeEnv anthropic_env{{{"ANTHROPIC_API_KEY", "from-env"}}};
    CHECK(route(explicit_key, anthropic_env.fn()).endpoint.api_key == "from-settings");

    auto loopback = with_model("claude-sonnet-4-5");
    loopback.base_url = "http://127.0.0.1:9000";
    CHECK_NOTHROW(route(loopback, FakeEnv{}.fn()));
}

TEST_CASE("router: errors name what to set and never leak keys", "[providers]") {
    CHECK_THAT(config_error(with_model("gpt-5-mini"), {}), Catch::Contains("OPENAI_API_KEY is not set"));
    CHECK_THAT(config_error(with_model("claude-3-5-haiku"), {}), Catch::Contains("ANTHROPIC_API_KEY is not set"));
    CHECK_THAT(config_error(with_model("gemini-2.0-flash"), {}), Catch::Contains("GEMINI_API_KEY") && Catch::Contains("GOOGLE_API_KEY"));
    auto chat = with_model("gpt-4o");
    chat.provider = "openai-chat";
    CHECK_THAT(config_error(chat, {}), Catch::Contains("OPENAI_API_KEY is not set"));  // the official endpoint needs one

    const auto unknown_model = config_error(with_model("mistral-large"), {});
    CHECK_THAT(unknown_model, Catch::Contains("mistral-large") && Catch::Contains("openai-chat"));
    auto unknown_provider = with_model("gpt-5");
    unknown_provider.provider = "bedrock";
    unknown_provider.api_key = "sk-SECRET-VALUE";
    const auto message = config_error(unknown_provider, {});
    CHECK_THAT(message, Catch::Contains("unknown provider \"bedrock\""));
    CHECK_THAT(message, !Catch::Contains("SECRET"));
    auto fake = with_model("gpt-5");
    fake.provider = "fake";
    CHECK_FALSE(config_error(fake, {}).empty());

    auto bad_url = with_model("gpt-5");
    bad_url.api_key = "sk-SECRET-VALUE";
    bad_url.base_url = "ftp://example.com";
    const auto url_message = config_error(bad_url, {});
    CHECK_THAT(url_message, Catch::Contains("http://") && !Catch::Contains("SECRET"));
}

TEST_CASE("router: make_http_provider builds a provider with the adapter's capabilities", "[providers]") {
    auto client = std::make_shared<http::Client>();
    auto s = with_model("ollama:llama3.2");
    const auto ollama = make_http_provider(s, client, FakeEnv{}.fn());
    CHECK(ollama->name() == "ollama");
    CHECK_FALSE(ollama->capabilities().streaming_with_tools);
    s.model = "claude-sonnet-4-5";
    s.api_key = "k";
    const auto anthropic = make_http_provider(s, client, FakeEnv{}.fn());
    CHECK(anthropic->name() == "anthropic");
    CHECK(anthropic->capabilities().streaming_with_tools);
    s.model = "nothing-known";
    CHECK_THROWS_AS(make_http_provider(s, client, FakeEnv{}.fn()), ConfigurationError);
}
