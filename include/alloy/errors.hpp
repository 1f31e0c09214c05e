// Exceptions thrown by alloy-cpp at the command layer.
//
// Every message is written for a person reading a log: it names what failed and why, and it never
// contains an API key or an authorization header.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace alloy {

/// What kind of failure a CommandError reports; used by `retry_on` filters, metrics and logs.
enum class ErrorKind {
    provider_status,   ///< the provider answered with an HTTP error status (see Diagnostics::http_status)
    connection,        ///< resolve, connect, TLS or proxy failure, or the peer closed the connection
    timeout,           ///< a timer fired; Diagnostics::phase says which (connect, first_byte, attempt, deadline, ...)
    stream,            ///< a stream broke off, or reported an error event inside a 200 response
    protocol,          ///< the provider's reply could not be understood (malformed JSON, unexpected shape)
    response_too_large,///< the response exceeded the configured size limit
    output_missing,    ///< the model ended without the output the command needs (e.g. empty text)
    output_parse,      ///< the model's output did not parse into the command's output type
    tool_loop_limit,   ///< the model asked for more tool turns than `max_tool_turns` allows
    cancelled,         ///< the operation was cancelled by its caller
    other,             ///< anything else (an exception from user code, ...)
};

/// Stable lower-case name of an ErrorKind ("provider_status", "timeout", ...), for logs and metrics.
std::string_view to_string(ErrorKind kind) noexcept;

/// What is known about a failed provider exchange. All fields are optional; none holds a secret.
struct Diagnostics {
    int http_status = 0;                 ///< HTTP status, 0 when no response arrived
    std::string provider;                ///< adapter name, e.g. "openai", "anthropic"
    std::string error_type;              ///< provider error type, e.g. "rate_limit_error"
    std::string error_code;              ///< provider error code, e.g. "insufficient_quota"
    std::string message;                 ///< provider (or transport) error text
    std::string request_id;              ///< provider request id (x-request-id, request-id, ...)
    std::string phase;                   ///< for timeouts and connection errors: which phase failed
    std::optional<std::chrono::milliseconds> retry_after; ///< server-directed delay, when one was sent
    bool retryable = false;              ///< the single retry classifier's verdict for this failure
};

/// Base of every exception alloy-cpp throws.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Misconfiguration or an unsupported capability. Raised at once and never retried.
class ConfigurationError : public Error {
public:
    using Error::Error;
};

/// A command (or `ask`) failed: provider failure after retries, missing or unparsable output, timeouts.
class CommandError : public Error {
public:
    CommandError(ErrorKind kind, const std::string& message, Diagnostics diagnostics = {},
                 std::exception_ptr cause = nullptr, int attempts = 1);

    ErrorKind kind() const noexcept { return kind_; }
    /// Details of the provider exchange that failed (status, provider error, request id, retry-after).
    const Diagnostics& diagnostics() const noexcept { return diagnostics_; }
    /// The underlying exception of the last failed attempt, if this error wraps one.
    std::exception_ptr cause() const noexcept { return cause_; }
    /// How many attempts of the whole command were made before giving up.
    int attempts() const noexcept { return attempts_; }
    /// True when the single retry classifier considers this failure transient.
    bool retryable() const noexcept { return diagnostics_.retryable; }
    /// Records how many attempts were made (set by the engine before the error leaves a command).
    void record_attempts(int attempts) noexcept { attempts_ = attempts; }

private:
    ErrorKind kind_;
    Diagnostics diagnostics_;
    std::exception_ptr cause_;
    int attempts_;
};

/// The model asked for more tool turns than allowed. Thrown before the over-limit batch of calls runs.
class ToolLoopLimitExceeded : public CommandError {
public:
    ToolLoopLimitExceeded(int max_turns, int turns_taken, std::string partial_text);

    int max_turns() const noexcept { return max_turns_; }
    int turns_taken() const noexcept { return turns_taken_; }
    /// Assistant text produced so far (may be empty).
    const std::string& partial_text() const noexcept { return partial_text_; }

private:
    int max_turns_;
    int turns_taken_;
    std::string partial_text_;
};

/// A tool failed: a contract was violated, its body threw, or it timed out. Inside the tool loop the
/// message goes back to the model as the call's result; a direct C++ call of a tool throws it.
class ToolError : public Error {
public:
    ToolError(std::string tool, const std::string& message, std::string contract = {});

    const std::string& tool() const noexcept { return tool_; }
    /// The message of the `require`/`ensure` contract that failed, empty for other failures.
    const std::string& contract() const noexcept { return contract_; }

private:
    std::string tool_;
    std::string contract_;
};

}  // namespace alloy
