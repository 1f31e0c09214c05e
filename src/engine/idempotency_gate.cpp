#include "engine/idempotency_gate.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <vector>

namespace asio = boost::asio;

namespace alloy::detail {

struct IdempotencyGate::Pending {
    bool done = false;
    std::optional<std::string> result;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // woken by cancel() on their own executor
};

IdempotencyGate::Ticket::Ticket(IdempotencyGate* gate, std::string key, std::shared_ptr<Pending> pending)
    : gate_(gate), key_(std::move(key)), pending_(std::move(pending)) {}

IdempotencyGate::Ticket::Ticket(Ticket&& other) noexcept
    : gate_(std::exchange(other.gate_, nullptr)), key_(std::move(other.key_)), pending_(std::move(other.pending_)) {}

IdempotencyGate::Ticket::~Ticket() { release(std::nullopt); }

void IdempotencyGate::Ticket::finish(const std::string& result) { release(result); }

void IdempotencyGate::Ticket::release(std::optional<std::string> result) {
    if (!gate_) return;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;
    {
        std::lock_guard lock(gate_->mutex_);
        pending_->done = true;
        pending_->result = std::move(result);
        waiters.swap(pending_->waiters);
        gate_->running_.erase(key_);
    }
    gate_ = nullptr;
    for (auto& timer : waiters) asio::post(timer->get_executor(), [timer] { timer->cancel(); });
}

asio::awaitable<std::optional<IdempotencyGate::Ticket>> IdempotencyGate::enter(std::string key,
                                                                               std::optional<std::string>& replayed) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, std::chrono::hours(24));
    std::shared_ptr<Pending> pending;
    {
        std::lock_guard lock(mutex_);
        auto& slot = running_[key];
        if (!slot) {
            slot = std::make_shared<Pending>();
            co_return Ticket(this, std::move(key), slot);
        }
        pending = slot;
        pending->waiters.push_back(timer);
    }
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::lock_guard lock(mutex_);
    if (!pending->done) {
        // Woken by our own cancellation, not by the holder: leave quietly.
        std::erase(pending->waiters, timer);
        throw boost::system::system_error(asio::error::operation_aborted);
    }
    replayed = pending->result;
    co_return std::nullopt;
}

}  // namespace alloy::detail
