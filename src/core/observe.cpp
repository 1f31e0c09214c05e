#include <alloy/observe.hpp>

namespace alloy {

std::string_view to_string(EventType type) noexcept {
    switch (type) {
    case EventType::command_start: return "command_start";
    case EventType::command_end: return "command_end";
    case EventType::attempt_start: return "attempt_start";
    case EventType::attempt_end: return "attempt_end";
    case EventType::request_start: return "request_start";
    case EventType::request_end: return "request_end";
    case EventType::retry_scheduled: return "retry_scheduled";
    case EventType::tool_start: return "tool_start";
    case EventType::tool_end: return "tool_end";
    case EventType::stream_first_chunk: return "stream_first_chunk";
    case EventType::stream_end: return "stream_end";
    case EventType::finalize: return "finalize";
    }
    return "unknown";
}

}  // namespace alloy
