#include <alloy/idempotency.hpp>

#include <list>
#include <mutex>
#include <unordered_map>

namespace alloy {

struct InMemoryIdempotencyStore::Impl {
    struct Entry {
        std::string key;
        std::string result;
        std::chrono::steady_clock::time_point expires;
    };
    mutable std::mutex mutex;
    std::size_t max_entries;
    std::chrono::milliseconds ttl;
    std::list<Entry> order;  // oldest first
    std::unordered_map<std::string, std::list<Entry>::iterator> index;

    void erase(std::list<Entry>::iterator it) {
        index.erase(it->key);
        order.erase(it);
    }
};

InMemoryIdempotencyStore::InMemoryIdempotencyStore(std::size_t max_entries, std::chrono::milliseconds ttl)
    : impl_(std::make_unique<Impl>()) {
    impl_->max_entries = max_entries == 0 ? 1 : max_entries;
    impl_->ttl = ttl;
}

InMemoryIdempotencyStore::~InMemoryIdempotencyStore() = default;

std::optional<std::string> InMemoryIdempotencyStore::get(const std::string& key) {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->index.find(key);
    if (it == impl_->index.end()) return std::nullopt;
    if (it->second->expires <= std::chrono::steady_clock::now()) {
        impl_->erase(it->second);
        return std::nullopt;
    }
    return it->second->result;
}

void InMemoryIdempotencyStore::put(const std::string& key, const std::string& result) {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->index.find(key); it != impl_->index.end()) impl_->erase(it->second);
    impl_->order.push_back(Impl::Entry{key, result, std::chrono::steady_clock::now() + impl_->ttl});
    impl_->index[key] = std::prev(impl_->order.end());
    while (impl_->order.size() > impl_->max_entries) impl_->erase(impl_->order.begin());
}

std::size_t InMemoryIdempotencyStore::size() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->order.size();
}

}  // namespace alloy
