// Adapter for the Ollama native chat API (/api/chat, NDJSON streams). Internal header.
#pragma once

#include "providers/adapter.hpp"

#include <memory>

namespace alloy::providers {

/// The Ollama native chat API (/api/chat, NDJSON streams) adapter for `endpoint`.
std::unique_ptr<Adapter> make_ollama_adapter(Endpoint endpoint);

}  // namespace alloy::providers
