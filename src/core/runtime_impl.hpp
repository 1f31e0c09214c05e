// Runtime's internal state, shared with the engine (internal header).
#pragma once

#include <alloy/idempotency.hpp>
#include <alloy/runtime.hpp>

#include "engine/idempotency_gate.hpp"
#include "http/client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace alloy {

namespace detail {
struct CommandDef;

/// Settings of a call without per-call overrides, resolved once per command and runtime.
struct CachedResolution {
    std::weak_ptr<const CommandDef> def;  ///< identity check: the address may be reused by another command
    std::uint64_t generation = 0;         ///< settings_generation() read before resolving
    std::shared_ptr<const ResolvedSettings> settings;
    std::shared_ptr<const std::vector<Tool>> tools;
};
}  // namespace detail

struct Runtime::Impl {
    mutable std::mutex mutex;
    // Observers are read on every event and changed rarely: readers take a snapshot pointer.
    std::shared_ptr<const std::vector<std::shared_ptr<Observer>>> observers =
        std::make_shared<const std::vector<std::shared_ptr<Observer>>>();
    std::atomic<bool> has_observers{false};
    std::atomic<bool> capture_content{false};
    mutable std::atomic<std::size_t> observer_failures{0};
    Usage usage;
    Settings defaults;
    std::shared_ptr<Provider> override_provider;
    std::map<std::string, std::shared_ptr<Provider>> providers;
    std::shared_ptr<http::Client> http;
    std::unique_ptr<boost::asio::thread_pool> pool;
    std::shared_ptr<IdempotencyStore> idempotency;
    detail::IdempotencyGate idempotency_gate;

    std::mutex resolutions_mutex;
    std::unordered_map<const detail::CommandDef*, detail::CachedResolution> resolutions;
    std::size_t resolutions_live = 0;  ///< entries after the last sweep of expired commands

    // Background io_context for the blocking forms, started on first use.
    std::unique_ptr<boost::asio::io_context> background;
    std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> background_work;
    std::thread background_thread;

    ~Impl() {
        if (background) {
            background_work.reset();
            background->stop();
            if (background_thread.joinable()) background_thread.join();
        }
        if (pool) pool->join();
        // Pooled connections belong to the io_context they were opened on, the background one included:
        // close them now, while it still exists (as members they would be destroyed after it).
        providers.clear();
        override_provider.reset();
        http.reset();
    }
};

}  // namespace alloy
