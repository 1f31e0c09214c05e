// Events: what the engine and the transport report about every run, delivered to observers.
//
// Observers attach to a Runtime (`rt.add_observer(...)`). They are called synchronously, on the thread
// that produced the event, so they must be quick and thread-safe; an observer that throws is isolated
// (the exception is counted and reported through the log hook) and never breaks a command.
#pragma once

#include <alloy/errors.hpp>
#include <alloy/provider.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace alloy {

/// What happened.
enum class EventType {
    command_start,       ///< a command (or ask) call began
    command_end,         ///< it ended: outcome, error kind, duration, usage, attempts
    attempt_start,       ///< one attempt of the whole command began (attempt = 1, 2, ...)
    attempt_end,         ///< that attempt ended
    request_start,       ///< a provider request is being sent
    request_end,         ///< its reply (or failure) arrived: status, latency, bytes, usage, request id
    retry_scheduled,     ///< a retry will happen after `delay` (`retry_level` "request" or "command")
    tool_start,          ///< a tool call began
    tool_end,            ///< it ended: outcome, duration, failed contract
    stream_first_chunk,  ///< the first text chunk of a stream arrived (duration = time to first token)
    stream_end,          ///< a stream ended (chunks, duration)
    finalize,            ///< the finalize follow-up was sent
};

/// Stable snake_case name ("command_start", ...), used as the `event` field of log lines.
std::string_view to_string(EventType type) noexcept;

/// One event. Fields that do not apply to the type are left empty / zero.
struct Event {
    EventType type = EventType::command_start;
    std::chrono::system_clock::time_point time = std::chrono::system_clock::now();

    // Correlation: every event of one run carries its run id; spans follow W3C trace context.
    std::string run_id;
    std::string trace_id;        ///< 32 hex digits
    std::string span_id;         ///< 16 hex digits: this event's span (command, attempt, request or tool)
    std::string parent_span_id;  ///< the enclosing span, empty for the command span

    std::string command;   ///< command name ("ask" for ask)
    std::string model;
    std::string provider;  ///< adapter name
    int attempt = 0;       ///< attempt of the whole command, from 1

    // Outcome (the *_end events).
    std::string outcome;                 ///< "ok", "error" or "cancelled"
    std::optional<ErrorKind> error_kind;
    std::string error_message;           ///< never contains secrets
    std::chrono::nanoseconds duration{0};

    // Provider requests.
    int http_status = 0;
    std::string request_id;
    std::size_t bytes_sent = 0;
    std::size_t bytes_received = 0;
    Usage usage;
    std::string finish_reason;
    int tool_turn = 0;  ///< which tool turn of the attempt this request belongs to (0 = first request)

    // Retries.
    std::chrono::milliseconds delay{0};
    std::string retry_level;  ///< "request" (transport) or "command"
    std::string reason;       ///< why: the failure's message

    // Tools.
    std::string tool;
    std::string tool_call_id;
    std::string contract;  ///< the require/ensure message that failed, if one did

    // Streams.
    std::size_t chunks = 0;

    /// Prompt, answer or tool arguments/result. Filled only when the runtime's content capture is on
    /// (off by default); observers mask configured fields and patterns before writing it anywhere.
    std::optional<std::string> content;
};

/// Receives events. Implementations must be thread-safe.
class Observer {
public:
    virtual ~Observer() = default;
    virtual void on_event(const Event& event) = 0;
};

}  // namespace alloy
