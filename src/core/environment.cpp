#include "core/environment.hpp"

#include <alloy/runtime.hpp>

#include <atomic>
#include <exception>
#include <mutex>

namespace alloy {
namespace {

struct EnvironmentCache {
    std::mutex mutex;
    bool loaded = false;
    Settings settings;
    std::exception_ptr error;
};

std::atomic<std::uint64_t> generation{1};

EnvironmentCache& cache() {
    static EnvironmentCache c;
    return c;
}

void load_locked(EnvironmentCache& c) {
    c.settings = {};
    c.error = nullptr;
    try {
        c.settings = settings_from_env();
    } catch (...) {
        c.error = std::current_exception();
    }
    c.loaded = true;
}

}  // namespace

void reload_environment() {
    auto& c = cache();
    std::lock_guard lock(c.mutex);
    load_locked(c);
    detail::bump_settings_generation();
}

namespace detail {

std::uint64_t settings_generation() noexcept { return generation.load(std::memory_order_acquire); }

void bump_settings_generation() noexcept { generation.fetch_add(1, std::memory_order_acq_rel); }

Settings environment_settings() {
    auto& c = cache();
    std::lock_guard lock(c.mutex);
    if (!c.loaded) load_locked(c);
    if (c.error) std::rethrow_exception(c.error);
    return c.settings;
}

}  // namespace detail
}  // namespace alloy
