// Runtime: an explicit scope with its own defaults, provider routing, thread pool and observers.
//
// Commands and `ask` run in Runtime::global() unless given another runtime (`cmd.in(rt)`,
// `rt.ask(...)`). A Runtime is thread-safe and must outlive the commands running in it.
#pragma once

#include <alloy/config.hpp>
#include <alloy/errors.hpp>
#include <alloy/idempotency.hpp>
#include <alloy/observe.hpp>
#include <alloy/provider.hpp>
#include <alloy/stream.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <functional>
#include <memory>
#include <string>

namespace alloy {

class Runtime {
public:
    /// A runtime whose scope layer is `defaults` (between `configure()` and command options).
    explicit Runtime(Settings defaults = {});
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    /// The process-wide runtime used when none is named.
    static Runtime& global();

    /// This runtime's scope layer.
    Settings defaults() const;
    void set_defaults(Settings defaults);

    /// Sends every command of this runtime to `provider` instead of routing by settings (for tests and
    /// custom backends). nullptr restores routing.
    void set_provider(std::shared_ptr<Provider> provider);

    /// The provider for a resolved set of settings: the one set by set_provider(), the fake backend
    /// (`provider == "fake"`), or an HTTP adapter chosen by provider name or model id (cached).
    /// Throws ConfigurationError for an unknown provider or a missing API key.
    std::shared_ptr<Provider> provider_for(const ResolvedSettings& settings);

    /// Attaches an observer: it receives every event of every command run in this runtime.
    void add_observer(std::shared_ptr<Observer> observer);
    /// Detaches an observer (events already being delivered may still reach it).
    void remove_observer(const std::shared_ptr<Observer>& observer);
    /// Puts prompts, answers and tool arguments/results into events' `content` (off by default).
    void capture_content(bool on);
    bool captures_content() const noexcept;
    /// Delivers `event` to every observer; a throwing observer is isolated and counted.
    void emit(const Event& event) const noexcept;
    /// True when at least one observer is attached (lets callers skip building events).
    bool observed() const noexcept;
    /// Exceptions thrown by observers so far.
    std::size_t observer_failures() const noexcept;

    /// Token usage summed over every command run in this runtime.
    Usage total_usage() const;
    /// Adds a finished run's usage to the runtime total (called by the engine).
    void record_usage(const Usage& usage);

    /// Replaces the store of idempotent tool results (default: an InMemoryIdempotencyStore).
    void set_idempotency_store(std::shared_ptr<IdempotencyStore> store);
    std::shared_ptr<IdempotencyStore> idempotency_store();

    /// Executor of the thread pool that runs tools marked `blocking()`.
    boost::asio::any_io_executor blocking_executor();

    /// Executor of the runtime's background io_context thread, started on first use; the blocking
    /// forms (`sync`, `ask_sync`, `next_sync`) run there so pooled connections stay on one executor.
    boost::asio::any_io_executor background_executor();

    /// Runs `op` on the background thread and waits for it. Throws what `op` throws. Must not be
    /// called from the background thread itself (ConfigurationError).
    template <class T>
    T block_on(boost::asio::awaitable<T> op) {
        auto ex = checked_background_executor();
        return boost::asio::co_spawn(ex, std::move(op), boost::asio::use_future).get();
    }

    /// Free-text question in this runtime (see alloy::ask).
    boost::asio::awaitable<std::string> ask(std::string prompt, Settings options = {});
    /// Blocking form of ask().
    std::string ask_sync(std::string prompt, Settings options = {});
    /// Streamed free-text answer (see alloy::ask_stream).
    TextStream ask_stream(std::string prompt, Settings options = {});

    /// Implementation state (internal).
    struct Impl;
    Impl& impl() noexcept { return *impl_; }

private:
    boost::asio::any_io_executor checked_background_executor();
    std::unique_ptr<Impl> impl_;
};

/// Re-reads the `ALLOY_*` environment variables (they are read once, on first use).
void reload_environment();

/// Asks a free-text question in the global runtime. `options` are per-call settings (`tools`,
/// `system`, `context` rendered into the prompt, ...). Empty answers are a CommandError.
boost::asio::awaitable<std::string> ask(std::string prompt, Settings options = {});
/// Blocking form of ask(), for plain code.
std::string ask_sync(std::string prompt, Settings options = {});
/// Streams a free-text answer in the global runtime.
TextStream ask_stream(std::string prompt, Settings options = {});

}  // namespace alloy
