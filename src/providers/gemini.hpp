// Adapter for the Google Gemini API (v1beta generateContent / streamGenerateContent). Internal header.
#pragma once

#include "providers/adapter.hpp"

#include <memory>

namespace alloy::providers {

/// The Google Gemini API (v1beta generateContent / streamGenerateContent) adapter for `endpoint`.
std::unique_ptr<Adapter> make_gemini_adapter(Endpoint endpoint);

}  // namespace alloy::providers
