// Adapter for the OpenAI Chat Completions ({base}/chat/completions), also every OpenAI-compatible server. Internal header.
#pragma once

#include "providers/adapter.hpp"

#include <memory>

namespace alloy::providers {

/// The OpenAI Chat Completions adapter for `endpoint` (also used for OpenAI-compatible servers).
std::unique_ptr<Adapter> make_openai_chat_adapter(Endpoint endpoint);

}  // namespace alloy::providers
