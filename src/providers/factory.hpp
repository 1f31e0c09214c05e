// Routing: from resolved settings (provider, model, base URL, key) and the environment to a provider.
// Internal header.
#pragma once

#include "http/client.hpp"
#include "providers/adapter.hpp"
#include "providers/http_provider.hpp"

#include <alloy/config.hpp>
#include <alloy/provider.hpp>

#include <functional>
#include <memory>
#include <string>

namespace alloy::providers {

/// Which adapter serves a request, and where: the result of routing, before any transport exists.
struct Route {
    std::string provider;  ///< "openai", "openai-chat", "anthropic", "gemini" or "ollama"
    Endpoint endpoint;     ///< model, base URL (official default or override) and key (may be empty)
};

/// Chooses the adapter from `s.provider`, else from the model id (`gpt-*`, `o1*`/`o3*`/`o4*` -> "openai";
/// `claude*` -> "anthropic"; `gemini*` -> "gemini"; `ollama:NAME` -> "ollama"), and fills in the base URL
/// (`s.base_url`, else `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` / `GEMINI_BASE_URL` / `OLLAMA_HOST`, else the
/// official default) and the key (`s.api_key`, else `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` /
/// `GEMINI_API_KEY` then `GOOGLE_API_KEY`). Throws ConfigurationError for an unknown provider, a model id
/// that routes nowhere, a malformed base URL, or a missing key; a key is optional for Ollama, for
/// "openai-chat" against a server other than api.openai.com, and for loopback servers. Messages name
/// the variable to set and never contain a key.
Route route(const ResolvedSettings& s, const std::function<const char*(const char*)>& getenv);

/// The adapter for a route.
std::unique_ptr<Adapter> make_adapter(const Route& route);

/// An HttpProvider for `s` (see route()), using `client` for transport and the retry and HTTP settings
/// of `s`. `on_retry`, when set, observes each transport retry.
std::shared_ptr<Provider> make_http_provider(const ResolvedSettings& s, std::shared_ptr<http::Client> client,
                                             const std::function<const char*(const char*)>& getenv,
                                             RetryObserver on_retry = {});

}  // namespace alloy::providers
