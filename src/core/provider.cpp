#include <alloy/provider.hpp>

namespace alloy {

Usage& Usage::operator+=(const Usage& other) noexcept {
    input_tokens += other.input_tokens;
    output_tokens += other.output_tokens;
    cached_tokens += other.cached_tokens;
    reasoning_tokens += other.reasoning_tokens;
    return *this;
}

std::string_view to_string(FinishReason reason) noexcept {
    switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::tool_calls: return "tool_calls";
    case FinishReason::content_filter: return "content_filter";
    case FinishReason::error: return "error";
    case FinishReason::other: return "other";
    }
    return "other";
}

}  // namespace alloy
