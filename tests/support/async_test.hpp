// Runs a coroutine to completion on a fresh io_context under a hard time limit (test helper).
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <type_traits>

namespace alloy::test {

/// Runs `op` on `ctx` until it completes or `limit` passes (then the test fails). Rethrows the
/// coroutine's exception. `ctx` may be reused for several calls.
template <class T>
T run_on(boost::asio::io_context& ctx, boost::asio::awaitable<T> op,
         std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    ctx.restart();  // a context reused after an earlier run_on starts out stopped
    std::exception_ptr error;
    bool done = false;
    using Stored = std::conditional_t<std::is_void_v<T>, int, T>;
    std::optional<Stored> value;
    ctx.restart();  // a previous run may have left the context stopped (out of work)
    if constexpr (std::is_void_v<T>) {
        boost::asio::co_spawn(ctx, std::move(op), [&](std::exception_ptr e) {
            error = e;
            done = true;
        });
    } else {
        boost::asio::co_spawn(ctx, std::move(op), [&](std::exception_ptr e, T v) {
            error = e;
            if (!e) value.emplace(std::move(v));
            done = true;
        });
    }
    ctx.run_for(limit);
    REQUIRE(done);  // the hard time limit
    // Let cancelled leftovers finish so nothing outlives the test.
    ctx.restart();
    ctx.poll();
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*value);
}

template <class T>
T run(boost::asio::awaitable<T> op, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    boost::asio::io_context ctx;
    return run_on(ctx, std::move(op), limit);
}

}  // namespace alloy::test
