// Idempotent tools: a call whose natural key already completed returns the recorded result instead of
// running its body again.
//
//   const auto charge = alloy::tool("charge", "Charge a card", charge_fn)
//                           .idempotency_key([](const ChargeArgs& a) { return a.order_id; });
//
// Keys are scoped to one command run by default (shared by its retries and tool turns); with
// IdempotencyScope::global they are shared by every run that uses the same store. Concurrent calls with
// the same key run the body once; the others wait for its result. Only successful results are recorded.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace alloy {

/// Where an idempotency key is unique.
enum class IdempotencyScope {
    run,     ///< within one command run, across its retries and tool turns (default)
    global,  ///< across runs: every run using the same store shares the key
};

/// Storage of completed tool results by key. Implementations must be thread-safe. Plug in a shared
/// store (a database, Redis, ...) to make keys survive the process.
class IdempotencyStore {
public:
    virtual ~IdempotencyStore() = default;
    /// The result recorded for `key`, if a call with that key completed and has not expired.
    virtual std::optional<std::string> get(const std::string& key) = 0;
    /// Records the result of a completed call.
    virtual void put(const std::string& key, const std::string& result) = 0;
};

/// Bounded in-memory store with a time to live: the default store of a Runtime.
class InMemoryIdempotencyStore final : public IdempotencyStore {
public:
    /// Keeps at most `max_entries` results (the oldest are evicted first) for at most `ttl` each.
    explicit InMemoryIdempotencyStore(std::size_t max_entries = 10000,
                                      std::chrono::milliseconds ttl = std::chrono::hours(1));
    ~InMemoryIdempotencyStore() override;
    std::optional<std::string> get(const std::string& key) override;
    void put(const std::string& key, const std::string& result) override;
    /// Entries currently held (expired ones may still count until touched).
    std::size_t size() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace alloy
