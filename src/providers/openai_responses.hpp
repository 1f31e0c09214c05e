// Adapter for the OpenAI Responses API (/v1/responses). Internal header.
#pragma once

#include "providers/adapter.hpp"

#include <memory>

namespace alloy::providers {

/// The OpenAI Responses API (/v1/responses) adapter for `endpoint`.
std::unique_ptr<Adapter> make_openai_responses_adapter(Endpoint endpoint);

}  // namespace alloy::providers
