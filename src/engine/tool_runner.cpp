#include "engine/tool_runner.hpp"

#include "core/runtime_impl.hpp"
#include "engine/run_trace.hpp"
#include "engine/timeout.hpp"

#include <alloy/json.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/core/demangle.hpp>
#include <boost/json/parse.hpp>

#include <atomic>
#include <mutex>
#include <typeinfo>

namespace asio = boost::asio;

namespace alloy::detail {
namespace {

ToolResult error_result(const ToolCall& call, std::string text) {
    return ToolResult{call.id, call.name, std::move(text), true};
}

std::string available_tools(const std::vector<Tool>& tools) {
    if (tools.empty()) return "none";
    std::string out;
    for (const auto& t : tools) {
        if (!out.empty()) out += ", ";
        out += t.name();
    }
    return out;
}

/// Result slot shared between a blocking body on the thread pool and the waiting coroutine, so that the
/// waiter can give up (timeout, cancellation) while the body finishes on its own.
struct PoolCall {
    explicit PoolCall(asio::any_io_executor ex) : done(std::move(ex)) {}
    std::mutex mutex;
    bool finished = false;
    std::string value;
    std::exception_ptr error;
    asio::steady_timer done;  // expires "never"; cancelled to wake the waiter
};

asio::awaitable<std::string> run_blocking(const Tool& tool, boost::json::value args,
                                          asio::any_io_executor blocking_executor) {
    auto ex = co_await asio::this_coro::executor;
    auto state = std::make_shared<PoolCall>(ex);
    const auto limit = tool.timeout();
    state->done.expires_after(limit.count() > 0 ? limit : std::chrono::hours(24 * 365));
    // The work guard keeps the caller's io_context alive (its run() from returning) until the body has
    // handed its result back, even when the waiter gave up: a blocking body cannot be interrupted.
    asio::post(blocking_executor, [state, tool, args = std::move(args), work = asio::make_work_guard(ex)]() mutable {
        std::string value;
        std::exception_ptr error;
        try {
            value = tool.impl().call_sync(args);
        } catch (...) {
            error = std::current_exception();
        }
        // Hand the result back on the waiter's executor: the timer is not thread-safe. The state (and its
        // timer) moves with the handler, so this thread holds no part of the io_context once the work
        // guard is released and the context may be destroyed.
        auto home = state->done.get_executor();
        asio::post(home, [state = std::move(state), value = std::move(value), error]() mutable {
            state->finished = true;
            state->value = std::move(value);
            state->error = error;
            state->done.cancel();
        });
        work.reset();
    });
    boost::system::error_code ec;
    co_await state->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (state->finished) {
        if (state->error) std::rethrow_exception(state->error);
        co_return std::move(state->value);
    }
    if (!ec) throw ToolError(tool.name(), "tool '" + tool.name() + "' timed out after " +
                                              std::to_string(limit.count()) + " ms");
    throw boost::system::system_error(asio::error::operation_aborted);  // cancelled by the caller
}

asio::awaitable<std::string> run_body(const Tool& tool, boost::json::value args,
                                      asio::any_io_executor blocking_executor) {
    const auto& impl = tool.impl();
    if (impl.is_sync() && impl.blocking) co_return co_await run_blocking(tool, std::move(args), blocking_executor);
    if (impl.is_sync()) co_return impl.call_sync(args);  // runs inline: nothing to time out
    if (tool.timeout().count() <= 0) co_return co_await impl.call_async(std::move(args));
    try {
        co_return co_await with_timeout(impl.call_async(std::move(args)), tool.timeout(), "tool '" + tool.name() + "'",
                                        "tool");
    } catch (const CommandError& e) {
        if (e.kind() != ErrorKind::timeout) throw;
        throw ToolError(tool.name(),
                        "tool '" + tool.name() + "' timed out after " + std::to_string(tool.timeout().count()) + " ms");
    }
}

/// A tool call's result plus what events need to know about it.
struct Outcome {
    ToolResult result;
    std::string contract;  ///< the failed require/ensure message, if any
};

Outcome error_outcome(const ToolCall& call, std::string text, std::string contract = {}) {
    return Outcome{error_result(call, std::move(text)), std::move(contract)};
}

/// The store key of an idempotent call, or nullopt when the tool declares none.
std::optional<std::string> store_key(const Tool& tool, const boost::json::value& args, const ToolContext& ctx) {
    std::optional<std::string> key = tool.impl().idempotency_key(args);
    if (!key) return std::nullopt;
    std::string full = tool.impl().idempotency_scope == IdempotencyScope::run ? ctx.run_id + "/" : std::string("*/");
    full += tool.name();
    full += '/';
    full += *key;
    return full;
}

/// Runs an idempotent call: a recorded result is replayed; otherwise one call per key runs the body.
asio::awaitable<std::string> run_idempotent(const Tool& tool, boost::json::value args, ToolContext ctx,
                                            std::string key, bool& replayed) {
    auto store = ctx.runtime->idempotency_store();
    auto& gate = ctx.runtime->impl().idempotency_gate;
    for (;;) {
        if (auto hit = store->get(key)) {
            replayed = true;
            co_return *hit;
        }
        std::optional<std::string> waited;
        std::optional<IdempotencyGate::Ticket> ticket = co_await gate.enter(key, waited);
        if (!ticket) {
            if (waited) {
                replayed = true;
                co_return *waited;
            }
            continue;  // the holder failed: try to become the holder
        }
        if (auto hit = store->get(key)) {  // completed between our check and entering the gate
            replayed = true;
            co_return *hit;
        }
        std::string text = co_await run_body(tool, std::move(args), ctx.blocking_executor);
        store->put(key, text);
        ticket->finish(text);
        co_return text;
    }
}

asio::awaitable<Outcome> execute_tool(ToolCall call, std::shared_ptr<const std::vector<Tool>> tools,
                                      ToolContext ctx, bool& replayed) {
    const Tool* tool = nullptr;
    for (const auto& t : *tools)
        if (t.name() == call.name) tool = &t;
    if (!tool)
        co_return error_outcome(call, "Unknown tool '" + call.name + "'. Available tools: " + available_tools(*tools) + ".");

    boost::system::error_code ec;
    boost::json::value args = boost::json::parse(call.arguments.empty() ? std::string_view("{}") : call.arguments, ec);
    if (ec)
        co_return error_outcome(call, "Invalid arguments for tool '" + call.name + "': not valid JSON (" + ec.message() +
                                          "): " + snippet(call.arguments));
    if (!args.is_object())
        co_return error_outcome(call, "Invalid arguments for tool '" + call.name + "': expected a JSON object, got " +
                                          snippet(call.arguments));

    std::exception_ptr failure;
    try {
        std::optional<std::string> key = ctx.runtime ? store_key(*tool, args, ctx) : std::nullopt;
        std::string text;
        if (key) text = co_await run_idempotent(*tool, std::move(args), ctx, std::move(*key), replayed);
        else text = co_await run_body(*tool, std::move(args), ctx.blocking_executor);
        co_return Outcome{ToolResult{call.id, call.name, std::move(text), false}, {}};
    } catch (...) {
        failure = std::current_exception();
    }
    if (co_await cancelled_by_caller()) std::rethrow_exception(failure);
    try {
        std::rethrow_exception(failure);
    } catch (const ToolError& e) {
        co_return error_outcome(call, e.what(), e.contract());
    } catch (const ConversionError& e) {
        co_return error_outcome(call, "Invalid arguments for tool '" + call.name + "': " + std::string(e.what()));
    } catch (const std::exception& e) {
        co_return error_outcome(call, boost::core::demangle(typeid(e).name()) + ": " + e.what());
    } catch (...) {
        co_return error_outcome(call, "tool '" + call.name + "' failed with an unknown exception");
    }
}

struct Batch {
    std::vector<ToolCall> calls;
    std::shared_ptr<const std::vector<Tool>> tools;
    ToolContext context;
    std::vector<ToolResult> results;
    std::atomic<std::size_t> next{0};
};

asio::awaitable<void> batch_worker(std::shared_ptr<Batch> batch) {
    for (;;) {
        const std::size_t i = batch->next.fetch_add(1);
        if (i >= batch->calls.size()) co_return;
        ToolResult r = co_await invoke_tool(batch->calls[i], batch->tools, batch->context);
        batch->results[i] = std::move(r);
    }
}

}  // namespace

asio::awaitable<ToolResult> invoke_tool(ToolCall call, std::shared_ptr<const std::vector<Tool>> tools,
                                        ToolContext context) {
    bool replayed = false;
    const ToolTrace* trace = context.trace;
    if (!trace) {
        Outcome out = co_await execute_tool(std::move(call), std::move(tools), std::move(context), replayed);
        co_return std::move(out.result);
    }
    const RunTrace& run = *trace->run;
    const std::string span = new_span_id();
    Event start = run.make(EventType::tool_start, span, trace->parent_span);
    start.attempt = trace->attempt;
    start.tool = call.name;
    start.tool_call_id = call.id;
    if (run.content) start.content = call.arguments;
    run.emit(start);
    const auto started = std::chrono::steady_clock::now();
    Event end = run.make(EventType::tool_end, span, trace->parent_span);
    end.attempt = trace->attempt;
    end.tool = call.name;
    end.tool_call_id = call.id;
    std::exception_ptr failure;
    try {
        Outcome out = co_await execute_tool(std::move(call), std::move(tools), std::move(context), replayed);
        end.duration = since(started);
        if (replayed) end.reason = "replayed: idempotency key already completed";
        end.outcome = out.result.is_error ? "error" : "ok";
        end.contract = out.contract;
        if (out.result.is_error) end.error_message = out.result.content;
        if (run.content) end.content = out.result.content;
        run.emit(end);
        co_return std::move(out.result);
    } catch (...) {
        failure = std::current_exception();
    }
    end.duration = since(started);
    RunTrace::describe_failure(end, failure, true);
    run.emit(end);
    std::rethrow_exception(failure);
}

asio::awaitable<std::vector<ToolResult>> run_tool_calls(std::vector<ToolCall> calls,
                                                        std::shared_ptr<const std::vector<Tool>> tools,
                                                        int max_parallel, ToolContext context) {
    if (calls.size() == 1) {
        std::vector<ToolResult> one;
        ToolResult r = co_await invoke_tool(std::move(calls.front()), std::move(tools), std::move(context));
        one.push_back(std::move(r));
        co_return one;
    }
    auto batch = std::make_shared<Batch>();
    batch->results.resize(calls.size());
    batch->calls = std::move(calls);
    batch->tools = std::move(tools);
    batch->context = std::move(context);

    // A fixed set of workers pulls calls in order: at most max_parallel bodies run at any moment.
    const std::size_t workers = std::min<std::size_t>(batch->calls.size(), static_cast<std::size_t>(max_parallel));
    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, batch_worker(batch), asio::deferred));
    std::vector<Op> ops;
    ops.reserve(workers);
    for (std::size_t i = 0; i < workers; ++i) ops.push_back(asio::co_spawn(ex, batch_worker(batch), asio::deferred));
    auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    (void)order;
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
    co_return std::move(batch->results);
}

}  // namespace alloy::detail
