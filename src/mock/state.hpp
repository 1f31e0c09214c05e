// State shared by the mock server's connections: options, counters, the fault queue, recorded requests.
#pragma once

#include "alloy/mock/server.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>

namespace alloy::mock::detail {

struct ServerState {
    explicit ServerState(ServerOptions o) : options(std::move(o)) {}

    const ServerOptions options;

    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> open_connections{0};
    std::atomic<std::uint64_t> faults_applied{0};
    std::atomic<std::uint64_t> sequence{0};  ///< request numbers for ids

    /// Takes one application of the first queued fault matching `path`.
    std::optional<Fault> take_fault(std::string_view path);
    void push_fault(Fault f);
    void clear_faults();
    std::uint64_t faults_pending() const;

    /// Records one request. `head` is "METHOD\nTARGET\nname:value\n..." with credentials already
    /// redacted; `body` the raw body. Slots of the ring are reused, so recording allocates nothing once
    /// the ring is full and warm (requests are parsed back only when asked for).
    void record(std::string_view head, std::string_view body);
    std::vector<RecordedRequest> recorded() const;

    Stats stats() const;
    void reset();

private:
    mutable std::mutex mutex_;
    std::deque<Fault> faults_;
    std::atomic<bool> has_faults_{false};  // lets the hot path skip the lock when nothing is queued
    struct Slot {
        std::string head;
        std::string body;
    };
    std::vector<Slot> ring_;   // grows to options.max_recorded_requests, then wraps
    std::size_t next_slot_ = 0;
    std::size_t recorded_count_ = 0;
};

}  // namespace alloy::mock::detail
