// Bounding an awaitable by a steady timer, and recognising cancellation (internal header).
#pragma once

#include <alloy/errors.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <string>
#include <utility>

namespace alloy::detail {

/// The CommandError reported when a timer of `phase` ("attempt", "deadline", ...) fires.
CommandError timeout_error(const std::string& what, const std::string& phase, std::chrono::milliseconds limit);

/// True when the calling coroutine has been cancelled by its caller (then nothing may be retried).
inline boost::asio::awaitable<bool> cancelled_by_caller() {
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    co_return cs.cancelled() != boost::asio::cancellation_type::none;
}

/// Runs `op`, cancelling it when `limit` passes (limit <= 0: no bound). The cancelled operation is
/// waited for before this returns, so nothing it used outlives the call. Throws
/// timeout_error(what, phase, limit) on expiry.
template <class T>
boost::asio::awaitable<T> with_timeout(boost::asio::awaitable<T> op, std::chrono::milliseconds limit,
                                       std::string what, std::string phase) {
    using namespace boost::asio::experimental::awaitable_operators;
    if (limit.count() <= 0) co_return co_await std::move(op);
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
    auto result = co_await (std::move(op) || timer.async_wait(boost::asio::use_awaitable));
    if (result.index() == 1) throw timeout_error(what, phase, limit);
    if constexpr (!std::is_void_v<T>) co_return std::move(std::get<0>(result));
}

}  // namespace alloy::detail
