// Runs the tool calls of one turn: concurrently (bounded), results in call order. Internal header.
#pragma once

#include <alloy/provider.hpp>
#include <alloy/tool.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

namespace alloy::detail {

struct RunTrace;
}  // namespace alloy::detail
namespace alloy {
class Runtime;
}
namespace alloy::detail {

/// Where tool events go: the run's trace, under the attempt span.
struct ToolTrace {
    const RunTrace* run;
    std::string parent_span;
    int attempt;
};

/// What tool calls of one turn share.
struct ToolContext {
    boost::asio::any_io_executor blocking_executor;  ///< thread pool for blocking bodies
    Runtime* runtime = nullptr;                      ///< idempotency store and gate
    std::string run_id;                              ///< scope of run-scoped idempotency keys
    const ToolTrace* trace = nullptr;                ///< events, when observed
};

/// Runs one call. Every failure (unknown tool, invalid arguments, contract, exception, timeout) becomes
/// an error result whose text tells the model what went wrong; only cancellation propagates.
boost::asio::awaitable<ToolResult> invoke_tool(ToolCall call, std::shared_ptr<const std::vector<Tool>> tools,
                                               ToolContext context);

/// Runs `calls` with at most `max_parallel` at once and returns their results in call order.
/// Cancelling the caller cancels every running call (blocking bodies already on the thread pool
/// finish there, detached; their results are dropped).
boost::asio::awaitable<std::vector<ToolResult>> run_tool_calls(std::vector<ToolCall> calls, std::shared_ptr<const std::vector<Tool>> tools,
                                                               int max_parallel, ToolContext context);

}  // namespace alloy::detail
