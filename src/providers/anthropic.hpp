// Adapter for the Anthropic Messages API (/v1/messages). Internal header.
#pragma once

#include "providers/adapter.hpp"

#include <memory>

namespace alloy::providers {

/// The Anthropic Messages API (/v1/messages) adapter for `endpoint`.
std::unique_ptr<Adapter> make_anthropic_adapter(Endpoint endpoint);

}  // namespace alloy::providers
