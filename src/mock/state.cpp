#include "mock/state.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>

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
    if (!has_faults_.load(std::memory_order_acquire)) return std::nullopt;
    std::lock_guard lock(mutex_);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
        if (!it->path_contains.empty() && path.find(it->path_contains) == std::string_view::npos) continue;
        Fault f = *it;
        if (--it->times <= 0) faults_.erase(it);
        has_faults_.store(!faults_.empty(), std::memory_order_release);
        faults_applied.fetch_add(1, std::memory_order_relaxed);
        return f;
    }
    return std::nullopt;
}

void ServerState::push_fault(Fault f) {
    if (f.times <= 0) return;
    std::lock_guard lock(mutex_);
    faults_.push_back(std::move(f));
    has_faults_.store(true, std::memory_order_release);
}

void ServerState::clear_faults() {
    std::lock_guard lock(mutex_);
    faults_.clear();
    has_faults_.store(false, std::memory_order_release);
}

std::uint64_t ServerState::faults_pending() const {
    std::lock_guard lock(mutex_);
    std::uint64_t n = 0;
    for (const auto& f : faults_) n += static_cast<std::uint64_t>(f.times);
    return n;
}

void ServerState::record(std::string_view head, std::string_view body) {
    const std::size_t capacity = options.max_recorded_requests;
    if (capacity == 0) return;
    std::lock_guard lock(mutex_);
    if (ring_.size() < capacity && next_slot_ == ring_.size()) ring_.emplace_back();
    Slot& slot = ring_[next_slot_];
    slot.head.assign(head);
    slot.body.assign(body);
    next_slot_ = (next_slot_ + 1) % capacity;
    recorded_count_ = std::min(recorded_count_ + 1, capacity);
}

namespace {

RecordedRequest parse_record(std::string_view head, std::string_view body) {
    RecordedRequest r;
    auto next_line = [&head]() {
        const std::size_t end = std::min(head.find('\n'), head.size());
        std::string_view line = head.substr(0, end);
        head.remove_prefix(std::min(end + 1, head.size()));
        return line;
    };
    r.method = next_line();
    r.target = next_line();
    while (!head.empty()) {
        const std::string_view line = next_line();
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    std::error_code ec;
    if (!body.empty()) r.body = boost::json::parse(body, ec);
    if (ec) r.body = nullptr;
    return r;
}

}  // namespace

std::vector<RecordedRequest> ServerState::recorded() const {
    std::lock_guard lock(mutex_);
    std::vector<RecordedRequest> out;
    out.reserve(recorded_count_);
    // Oldest first: the slot after the newest when the ring has wrapped, else slot 0.
    const std::size_t start = ring_.size() < options.max_recorded_requests ? 0 : next_slot_;
    for (std::size_t i = 0; i < recorded_count_; ++i) {
        const Slot& slot = ring_[(start + i) % ring_.size()];
        out.push_back(parse_record(slot.head, slot.body));
    }
    return out;
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
        has_faults_.store(false, std::memory_order_release);
        ring_.clear();
        next_slot_ = 0;
        recorded_count_ = 0;
    }
    requests = 0;
    connections_accepted = 0;
    faults_applied = 0;
}

}  // namespace detail
}  // namespace alloy::mock
