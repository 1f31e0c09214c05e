#include "mock/state.hpp"

#include <algorithm>
#include <cctype>

namespace alloy::mock {

std::optional<std::string> RecordedRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < k.size() && same; ++i)
            same = std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(name[i]));
        if (same) return v;
    }
    return std::nullopt;
}

namespace detail {

std::optional<Fault> ServerState::take_fault(std::string_view path) {
    std::lock_guard lock(mutex_);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
        if (!it->path_contains.empty() && path.find(it->path_contains) == std::string_view::npos) continue;
        Fault f = *it;
        if (--it->times <= 0) faults_.erase(it);
        faults_applied.fetch_add(1, std::memory_order_relaxed);
        return f;
    }
    return std::nullopt;
}

void ServerState::push_fault(Fault f) {
    if (f.times <= 0) return;
    std::lock_guard lock(mutex_);
    faults_.push_back(std::move(f));
}

void ServerState::clear_faults() {
    std::lock_guard lock(mutex_);
    faults_.clear();
}

std::uint64_t ServerState::faults_pending() const {
    std::lock_guard lock(mutex_);
    std::uint64_t n = 0;
    for (const auto& f : faults_) n += static_cast<std::uint64_t>(f.times);
    return n;
}

void ServerState::record(RecordedRequest r) {
    if (options.max_recorded_requests == 0) return;
    std::lock_guard lock(mutex_);
    records_.push_back(std::move(r));
    while (records_.size() > options.max_recorded_requests) records_.pop_front();
}

std::vector<RecordedRequest> ServerState::recorded() const {
    std::lock_guard lock(mutex_);
    return {records_.begin(), records_.end()};
}

Stats ServerState::stats() const {
    Stats s;
    s.requests = requests.load();
    s.connections_accepted = connections_accepted.load();
    s.open_connections = open_connections.load();
    s.faults_applied = faults_applied.load();
    s.faults_pending = faults_pending();
    return s;
}

void ServerState::reset() {
    {
        std::lock_guard lock(mutex_);
        faults_.clear();
        records_.clear();
    }
    requests = 0;
    connections_accepted = 0;
    faults_applied = 0;
}

}  // namespace detail
}  // namespace alloy::mock
