// Adapter for the OpenAI Chat Completions ({base}/chat/completions), also every OpenAI-compatible server. Internal header.
#pragma once

#include "providers/adapter.hpp"
#include "providers/openai_chat_scan.hpp"

#include <memory>
#include <string_view>

namespace alloy::providers {

/// The OpenAI Chat Completions adapter for `endpoint` (also used for OpenAI-compatible servers).
std::unique_ptr<Adapter> make_openai_chat_adapter(Endpoint endpoint);

namespace detail {
/// Reads a non-streamed reply through a JSON tree: what the adapter falls back to for bodies its
/// one-pass scan declines. Throws CommandError for an `error` member (provider_status), invalid JSON or
/// a reply without a first choice (protocol). Exposed so tests can hold the scan to it.
ChatReplyFields read_chat_reply_tree(const http::Headers& headers, std::string_view body);
}  // namespace detail

}  // namespace alloy::providers
