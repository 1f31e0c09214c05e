#include <alloy/runtime.hpp>

#include "core/environment.hpp"
#include "core/runtime_impl.hpp"
#include "core/fake_provider.hpp"
#include "http/client.hpp"
#include "providers/factory.hpp"

#include <alloy/command.hpp>
#include <alloy/logging.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace asio = boost::asio;

namespace alloy {

Runtime::Runtime(Settings defaults) : impl_(std::make_unique<Impl>()) { impl_->defaults = std::move(defaults); }

Runtime::~Runtime() = default;

Runtime& Runtime::global() {
    static Runtime runtime;
    return runtime;
}

Settings Runtime::defaults() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->defaults;
}

void Runtime::set_defaults(Settings defaults) {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->defaults = std::move(defaults);
    }
    detail::bump_settings_generation();
}

void Runtime::set_provider(std::shared_ptr<Provider> provider) {
    std::lock_guard lock(impl_->mutex);
    impl_->override_provider = std::move(provider);
}

std::shared_ptr<Provider> Runtime::provider_for(const ResolvedSettings& settings) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->override_provider) return impl_->override_provider;
    if (settings.provider == "fake") {
        auto& fake = impl_->providers["fake"];
        if (!fake) fake = detail::make_fake_provider();
        return fake;
    }
    // Adapters are cheap but not free to build: cache one per routing and transport settings. The key
    // is only compared, never printed (it holds the API key).
    const auto& h = settings.http;
    std::string key;
    for (const std::string* part : {&settings.provider, &settings.model, &settings.base_url, &settings.api_key,
                                    &h.ca_file}) {
        key += *part;
        key += '\x1f';
    }
    for (long long n : {static_cast<long long>(h.resolve_timeout.count()), static_cast<long long>(h.connect_timeout.count()),
                        static_cast<long long>(h.tls_timeout.count()), static_cast<long long>(h.write_timeout.count()),
                        static_cast<long long>(h.first_byte_timeout.count()),
                        static_cast<long long>(h.stream_idle_timeout.count()), static_cast<long long>(h.max_response_bytes),
                        static_cast<long long>(h.request_retries), static_cast<long long>(h.max_connections_per_origin),
                        static_cast<long long>(h.pool_idle_timeout.count()), static_cast<long long>(h.insecure_skip_tls_verify),
                        static_cast<long long>(settings.backoff_initial.count()),
                        static_cast<long long>(settings.backoff_max.count()),
                        static_cast<long long>(settings.retry_after_max.count())}) {
        key += std::to_string(n);
        key += '\x1f';
    }
    auto& slot = impl_->providers[key];
    if (!slot) {
        if (!impl_->http) impl_->http = std::make_shared<http::Client>();
        slot = providers::make_http_provider(settings, impl_->http, [](const char* n) { return std::getenv(n); });
    }
    return slot;
}

void Runtime::add_observer(std::shared_ptr<Observer> observer) {
    if (!observer) return;
    std::lock_guard lock(impl_->mutex);
    auto next = std::make_shared<std::vector<std::shared_ptr<Observer>>>(*impl_->observers);
    next->push_back(std::move(observer));
    impl_->observers = std::move(next);
    impl_->has_observers = true;
}

void Runtime::remove_observer(const std::shared_ptr<Observer>& observer) {
    std::lock_guard lock(impl_->mutex);
    auto next = std::make_shared<std::vector<std::shared_ptr<Observer>>>(*impl_->observers);
    std::erase(*next, observer);
    impl_->has_observers = !next->empty();
    impl_->observers = std::move(next);
}

void Runtime::capture_content(bool on) { impl_->capture_content = on; }
bool Runtime::captures_content() const noexcept { return impl_->capture_content; }
bool Runtime::observed() const noexcept { return impl_->has_observers.load(std::memory_order_relaxed); }
std::size_t Runtime::observer_failures() const noexcept { return impl_->observer_failures; }

void Runtime::emit(const Event& event) const noexcept {
    if (!observed()) return;
    std::shared_ptr<const std::vector<std::shared_ptr<Observer>>> snapshot;
    {
        std::lock_guard lock(impl_->mutex);
        snapshot = impl_->observers;
    }
    for (const auto& o : *snapshot) {
        try {
            o->on_event(event);
        } catch (const std::exception& e) {
            // Isolated: a broken observer must never break a command. Report the first few.
            if (impl_->observer_failures++ < 5)
                log(LogLevel::warn, "alloy: an observer threw while handling " + std::string(to_string(event.type)) +
                                        ": " + e.what());
        } catch (...) {
            ++impl_->observer_failures;
        }
    }
}

Usage Runtime::total_usage() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->usage;
}

void Runtime::record_usage(const Usage& usage) {
    std::lock_guard lock(impl_->mutex);
    impl_->usage += usage;
}

void Runtime::set_idempotency_store(std::shared_ptr<IdempotencyStore> store) {
    std::lock_guard lock(impl_->mutex);
    impl_->idempotency = std::move(store);
}

std::shared_ptr<IdempotencyStore> Runtime::idempotency_store() {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->idempotency) impl_->idempotency = std::make_shared<InMemoryIdempotencyStore>();
    return impl_->idempotency;
}

asio::any_io_executor Runtime::blocking_executor() {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->pool) impl_->pool = std::make_unique<asio::thread_pool>(4);
    return impl_->pool->get_executor();
}

asio::any_io_executor Runtime::background_executor() {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->background) {
        impl_->background = std::make_unique<asio::io_context>(1);
        impl_->background_work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
            impl_->background->get_executor());
        impl_->background_thread = std::thread([ctx = impl_->background.get()] { ctx->run(); });
    }
    return impl_->background->get_executor();
}

asio::any_io_executor Runtime::checked_background_executor() {
    auto ex = background_executor();
    if (impl_->background->get_executor().running_in_this_thread())
        throw ConfigurationError("a blocking call (sync, ask_sync, next_sync) was made from the runtime's own "
                                 "background thread; co_await the command instead");
    return ex;
}

namespace {

std::shared_ptr<const detail::CommandDef> ask_def() {
    static const auto def = [] {
        auto d = std::make_shared<detail::CommandDef>();
        d->name = "ask";
        d->mode = detail::OutputMode::text;
        return d;
    }();
    return def;
}

}  // namespace

asio::awaitable<std::string> Runtime::ask(std::string prompt, Settings options) {
    RunInfo info = co_await detail::run_command(ask_def(), std::move(prompt),
                                                  std::make_shared<const Settings>(std::move(options)), this, {});
    co_return std::move(info.text);
}

std::string Runtime::ask_sync(std::string prompt, Settings options) {
    return block_on(ask(std::move(prompt), std::move(options)));
}

TextStream Runtime::ask_stream(std::string prompt, Settings options) {
    return detail::stream_command(ask_def(), std::move(prompt), std::make_shared<const Settings>(std::move(options)),
                                  this);
}

asio::awaitable<std::string> ask(std::string prompt, Settings options) {
    return Runtime::global().ask(std::move(prompt), std::move(options));
}

std::string ask_sync(std::string prompt, Settings options) {
    return Runtime::global().ask_sync(std::move(prompt), std::move(options));
}

TextStream ask_stream(std::string prompt, Settings options) {
    return Runtime::global().ask_stream(std::move(prompt), std::move(options));
}

}  // namespace alloy
