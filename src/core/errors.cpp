#include <alloy/errors.hpp>

#include <utility>

namespace alloy {

std::string_view to_string(ErrorKind kind) noexcept {
    switch (kind) {
    case ErrorKind::provider_status: return "provider_status";
    case ErrorKind::connection: return "connection";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::stream: return "stream";
    case ErrorKind::protocol: return "protocol";
    case ErrorKind::response_too_large: return "response_too_large";
    case ErrorKind::output_missing: return "output_missing";
    case ErrorKind::output_parse: return "output_parse";
    case ErrorKind::tool_loop_limit: return "tool_loop_limit";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::other: return "other";
    }
    return "other";
}

CommandError::CommandError(ErrorKind kind, const std::string& message, Diagnostics diagnostics,
                           std::exception_ptr cause, int attempts)
    : Error(message), kind_(kind), diagnostics_(std::move(diagnostics)), cause_(std::move(cause)),
      attempts_(attempts) {}

ToolLoopLimitExceeded::ToolLoopLimitExceeded(int max_turns, int turns_taken, std::string partial_text)
    : CommandError(ErrorKind::tool_loop_limit,
                   "tool loop limit exceeded: the model asked for tool turn " + std::to_string(turns_taken) +
                       " but max_tool_turns is " + std::to_string(max_turns)),
      max_turns_(max_turns), turns_taken_(turns_taken), partial_text_(std::move(partial_text)) {}

ToolError::ToolError(std::string tool, const std::string& message, std::string contract)
    : Error(message), tool_(std::move(tool)), contract_(std::move(contract)) {}

}  // namespace alloy
