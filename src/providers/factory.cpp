#include "providers/factory.hpp"

#include "providers/anthropic.hpp"
#include "providers/gemini.hpp"
#include "providers/ollama.hpp"
#include "providers/openai_chat.hpp"
#include "providers/openai_responses.hpp"

#include <string_view>

namespace alloy::providers {
namespace {

constexpr std::string_view openai_default_base = "https://api.openai.com/v1";
constexpr std::string_view anthropic_default_base = "https://api.anthropic.com";
constexpr std::string_view gemini_default_base = "https://generativelanguage.googleapis.com";
constexpr std::string_view ollama_default_base = "http://localhost:11434";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string env(const std::function<const char*(const char*)>& getenv, const char* name) {
    const char* value = getenv ? getenv(name) : nullptr;
    return value ? std::string(value) : std::string();
}

std::string provider_for_model(const std::string& model) {
    if (starts_with(model, "gpt-") || starts_with(model, "o1") || starts_with(model, "o3") || starts_with(model, "o4")) {
        return "openai";
    }
    if (starts_with(model, "claude")) return "anthropic";
    if (starts_with(model, "gemini")) return "gemini";
    if (starts_with(model, "ollama:")) return "ollama";
    throw ConfigurationError("cannot choose a provider for model '" + model +
                             "': use a model id starting with gpt-, o1, o3, o4, claude, gemini or ollama:, or set "
                             "provider to \"openai\", \"openai-chat\" (any OpenAI-compatible server, with base_url), "
                             "\"anthropic\", \"gemini\" or \"ollama\"");
}

// Host of an http(s) URL, lower-cased brackets kept for IPv6; throws for other schemes.
std::string host_of(const std::string& url, const std::string& provider) {
    std::string_view rest;
    if (starts_with(url, "http://")) rest = std::string_view(url).substr(7);
    else if (starts_with(url, "https://")) rest = std::string_view(url).substr(8);
    else {
        throw ConfigurationError("base URL for provider " + provider + " must start with http:// or https://: '" +
                                 url + "'");
    }
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
    if (starts_with(rest, "[")) return std::string(rest.substr(0, rest.find(']') + 1));
    return std::string(rest.substr(0, rest.find(':')));
}

bool is_loopback(const std::string& host) {
    return host == "localhost" || starts_with(host, "127.") || host == "[::1]";
}

// OLLAMA_HOST is often "host:port" or "0.0.0.0:11434" (the server's bind address).
std::string normalise_ollama_host(std::string host) {
    if (!starts_with(host, "http://") && !starts_with(host, "https://")) host = "http://" + host;
    const auto scheme_end = host.find("://") + 3;
    if (host.compare(scheme_end, 7, "0.0.0.0") == 0) host.replace(scheme_end, 7, "localhost");
    const auto authority_end = host.find('/', scheme_end);
    const std::string authority = host.substr(scheme_end, authority_end == std::string::npos ? std::string::npos
                                                                                             : authority_end - scheme_end);
    if (authority.find(':') == std::string::npos && starts_with(host, "http://")) {
        host.insert(authority_end == std::string::npos ? host.size() : authority_end, ":11434");
    }
    return host;
}

std::string strip_trailing_slashes(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

}  // namespace

Route route(const ResolvedSettings& s, const std::function<const char*(const char*)>& getenv) {
    Route r;
    r.provider = s.provider.empty() ? provider_for_model(s.model) : s.provider;
    r.endpoint.model = s.model;
    r.endpoint.api_key = s.api_key;
    std::string base = s.base_url;
    std::string key_variable;

    if (r.provider == "openai" || r.provider == "openai-chat") {
        if (base.empty()) base = env(getenv, "OPENAI_BASE_URL");
        if (base.empty()) base = openai_default_base;
        if (r.endpoint.api_key.empty()) r.endpoint.api_key = env(getenv, "OPENAI_API_KEY");
        key_variable = "OPENAI_API_KEY";
    } else if (r.provider == "anthropic") {
        if (base.empty()) base = env(getenv, "ANTHROPIC_BASE_URL");
        if (base.empty()) base = anthropic_default_base;
        if (r.endpoint.api_key.empty()) r.endpoint.api_key = env(getenv, "ANTHROPIC_API_KEY");
        key_variable = "ANTHROPIC_API_KEY";
    } else if (r.provider == "gemini") {
        if (base.empty()) base = env(getenv, "GEMINI_BASE_URL");
        if (base.empty()) base = gemini_default_base;
        if (r.endpoint.api_key.empty()) r.endpoint.api_key = env(getenv, "GEMINI_API_KEY");
        if (r.endpoint.api_key.empty()) r.endpoint.api_key = env(getenv, "GOOGLE_API_KEY");
        key_variable = "GEMINI_API_KEY (or GOOGLE_API_KEY)";
    } else if (r.provider == "ollama") {
        if (base.empty()) base = env(getenv, "OLLAMA_HOST");
        base = base.empty() ? std::string(ollama_default_base) : normalise_ollama_host(base);
        if (r.endpoint.api_key.empty()) r.endpoint.api_key = env(getenv, "OLLAMA_API_KEY");  // ollama.com only
    } else if (r.provider == "fake") {
        throw ConfigurationError("provider \"fake\" is the offline backend, not an HTTP provider");
    } else {
        throw ConfigurationError("unknown provider \"" + r.provider +
                                 "\": use \"openai\", \"openai-chat\", \"anthropic\", \"gemini\", \"ollama\" or \"fake\"");
    }
    r.endpoint.base_url = strip_trailing_slashes(base);

    const std::string host = host_of(r.endpoint.base_url, r.provider);
    const bool key_optional = r.provider == "ollama" || is_loopback(host) ||
                              (r.provider == "openai-chat" && host != "api.openai.com");
    if (r.endpoint.api_key.empty() && !key_optional) {
        throw ConfigurationError(key_variable + " is not set: export it or pass api_key in the settings (provider " +
                                 r.provider + ", model " + s.model + ")");
    }
    return r;
}

std::unique_ptr<Adapter> make_adapter(const Route& r) {
    if (r.provider == "openai") return make_openai_responses_adapter(r.endpoint);
    if (r.provider == "openai-chat") return make_openai_chat_adapter(r.endpoint);
    if (r.provider == "anthropic") return make_anthropic_adapter(r.endpoint);
    if (r.provider == "gemini") return make_gemini_adapter(r.endpoint);
    if (r.provider == "ollama") return make_ollama_adapter(r.endpoint);
    throw ConfigurationError("unknown provider \"" + r.provider + "\"");
}

std::shared_ptr<Provider> make_http_provider(const ResolvedSettings& s, std::shared_ptr<http::Client> client,
                                             const std::function<const char*(const char*)>& getenv,
                                             RetryObserver on_retry) {
    HttpProviderOptions options;
    options.http = s.http;
    options.backoff_initial = s.backoff_initial;
    options.backoff_max = s.backoff_max;
    options.retry_after_max = s.retry_after_max;
    options.on_retry = std::move(on_retry);
    return std::make_shared<HttpProvider>(make_adapter(route(s, getenv)), std::move(client), std::move(options));
}

}  // namespace alloy::providers
