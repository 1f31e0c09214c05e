// Fast reader for Chat Completions reply bodies: the fields the adapter uses, without a JSON tree.
// Internal header.
#pragma once

#include <alloy/provider.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alloy::providers::detail {

/// What a non-streamed Chat Completions reply carries for the adapter (which turns it into a
/// ModelReply: request id, call ids, normalised finish reason).
struct ChatReplyFields {
    std::string model;
    std::string text;            ///< choices[0].message.content
    bool refused = false;        ///< choices[0].message.refusal is a non-empty string
    std::vector<ToolCall> tool_calls;
    std::string finish_reason;   ///< choices[0].finish_reason
    std::optional<Usage> usage;  ///< set when `usage` is an object
};

/// Reads `body` in one pass with Boost.JSON's SAX parser, keeping only the fields above. Returns
/// std::nullopt whenever the body is anything but an ordinary reply: invalid JSON, not an object, an
/// `error` member, no object as the first choice, a key of interest repeated, arguments that are not a
/// string. The caller then parses the body into a tree, which reports those cases precisely; for
/// every body it accepts, the result equals what the tree reader gives (read_chat_reply_tree, tested).
std::optional<ChatReplyFields> scan_chat_reply(std::string_view body);

}  // namespace alloy::providers::detail
