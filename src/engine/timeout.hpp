// Bounding an awaitable by a steady timer, and recognising cancellation (internal header).
#pragma once

#include <alloy/errors.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <type_traits>
#include <string>
#include <utility>
#include <variant>

namespace alloy::detail {

/// The CommandError reported when a timer of `phase` ("attempt", "deadline", ...) fires.
CommandError timeout_error(const std::string& what, const std::string& phase, std::chrono::milliseconds limit);

/// True when the calling coroutine has been cancelled by its caller (then nothing may be retried).
inline boost::asio::awaitable<bool> cancelled_by_caller() {
    auto cs = co_await boost::asio::this_coro::cancellation_state;
    co_return cs.cancelled() != boost::asio::cancellation_type::none;
}

/// The outcome of an operation as a value: its result or the exception it threw.
template <class T>
struct Captured {
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
};

/// Runs `op` and returns its outcome instead of throwing it.
template <class T>
boost::asio::awaitable<Captured<T>> capture(boost::asio::awaitable<T> op) {
    Captured<T> out;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(op);
            out.value.emplace(true);
        } else {
            T v = co_await std::move(op);
            out.value.emplace(std::move(v));
        }
    } catch (...) {
        out.error = std::current_exception();
    }
    co_return out;
}

/// Runs `op`, cancelling it when `limit` passes (limit <= 0: no bound). The cancelled operation is
/// waited for before this returns, so nothing it used outlives the call. Throws
/// timeout_error(what, phase, limit) on expiry, and what `op` throws as soon as it throws.
template <class T>
boost::asio::awaitable<T> with_timeout(boost::asio::awaitable<T> op, std::chrono::milliseconds limit,
                                       std::string what, std::string phase) {
    using namespace boost::asio::experimental::awaitable_operators;
    if (limit.count() <= 0) co_return co_await std::move(op);
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
    // `||` waits for the first branch that *succeeds*: a failing `op` must not leave the timer to win,
    // so its exception travels as a value and is rethrown here.
    auto result = co_await (capture(std::move(op)) || timer.async_wait(boost::asio::use_awaitable));
    if (result.index() == 1) throw timeout_error(what, phase, limit);
    Captured<T>& outcome = std::get<0>(result);
    if (outcome.error) std::rethrow_exception(outcome.error);
    if constexpr (!std::is_void_v<T>) co_return std::move(*outcome.value);
}

}  // namespace alloy::detail
