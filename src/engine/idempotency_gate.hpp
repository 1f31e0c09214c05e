// Lets one call per idempotency key run at a time; the others wait for its result (internal header).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace alloy::detail {

class IdempotencyGate {
public:
    struct Pending;

    /// Holding a Ticket means this call runs the body for its key; destroying it without finish()
    /// (failure, cancellation) lets a waiter run instead.
    class Ticket {
    public:
        Ticket() = default;
        Ticket(IdempotencyGate* gate, std::string key, std::shared_ptr<Pending> pending);
        Ticket(Ticket&&) noexcept;
        Ticket& operator=(Ticket&&) = delete;
        ~Ticket();
        /// Publishes the successful result to the waiters.
        void finish(const std::string& result);

    private:
        void release(std::optional<std::string> result);
        IdempotencyGate* gate_ = nullptr;
        std::string key_;
        std::shared_ptr<Pending> pending_;
    };

    /// Enters the gate for `key`: either a ticket (run the body) or std::nullopt after waiting for the
    /// call that held the key, with its result in `replayed` (empty when that call failed: then enter
    /// again). Honours cancellation while waiting.
    boost::asio::awaitable<std::optional<Ticket>> enter(std::string key, std::optional<std::string>& replayed);

private:
    std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<Pending>> running_;
};

}  // namespace alloy::detail
