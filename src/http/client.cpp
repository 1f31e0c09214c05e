// HTTP/1.1 client: connection pools, the request/response exchange and the streamed body.
#include "http/client.hpp"

#include "http/connection.hpp"
#include "http/url.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_set>

namespace alloy::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------------
// Headers

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

}  // namespace

void Headers::set(std::string name, std::string value) {
    for (auto& item : items) {
        if (iequals(item.first, name)) {
            item.second = std::move(value);
            return;
        }
    }
    items.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> Headers::find(std::string_view name) const {
    for (const auto& item : items)
        if (iequals(item.first, name)) return std::string_view(item.second);
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------
// Pools
//
// Pools live with the execution context whose sockets they hold, not with the Client: each context has
// a PoolService owning that context's pools (ContextPools), keyed by (client id, origin + TLS options,
// executor). A Client keeps only weak references to the ContextPools it used. When the context is
// destroyed, the service's shutdown() closes and destroys every socket and timer of its pools, idle or
// checked out, and marks the pools dead, so a lease or stream that outlives the context never touches
// them again. A Client's destructor retires its pools in the contexts still alive.

namespace {

struct Counters {
    std::atomic<std::size_t> opened{0};
    std::atomic<std::size_t> reused{0};
};

/// A request waiting for a connection slot of a full pool.
struct Waiter {
    explicit Waiter(const asio::any_io_executor& executor) : wakeup(executor, 1) {}
    asio::experimental::concurrent_channel<void(boost::system::error_code)> wakeup;
    bool granted = false;                   // guarded by Pool::mutex
    std::unique_ptr<Connection> connection; // handed over with the slot, or empty: open a new one
};

/// Connections to one origin (with one set of TLS options) used on one executor, for one Client.
struct Pool {
    asio::any_io_executor executor;  // emptied when its context shuts down
    Endpoint endpoint;
    std::shared_ptr<Counters> counters;

    std::mutex mutex;
    std::vector<std::unique_ptr<Connection>> idle;  // most recently used last
    std::unordered_set<Connection*> checked_out;    // every other open connection, for shutdown()
    int open = 0;                                   // idle + in use + being connected
    std::deque<std::shared_ptr<Waiter>> waiters;
    bool retired = false;  // its Client is gone or its context shut down: keep no idle connection
    bool dead = false;     // its context shut down: none of its sockets may be touched any more

    /// A leased slot got a freshly opened connection.
    void track(Connection* connection) {
        std::lock_guard lock(mutex);
        if (dead)
            connection->release_io();  // cannot happen (nothing runs on a shut down context); stay safe
        else
            checked_out.insert(connection);
    }

    /// A leased slot ended without a reusable connection (`connection` may be empty): closes the
    /// connection and hands the slot on or shrinks the pool.
    void discard(std::unique_ptr<Connection> connection) {
        std::shared_ptr<Waiter> waiter;
        {
            std::lock_guard lock(mutex);
            if (connection) checked_out.erase(connection.get());
            waiter = pass_slot_locked();
        }
        if (connection) connection->close();  // a no-op once its context shut down (release_io)
        if (waiter) waiter->wakeup.try_send(boost::system::error_code{});
    }

    /// A connection finished a response cleanly and may carry another request.
    void put_back(std::unique_ptr<Connection> connection) {
        std::shared_ptr<Waiter> waiter;
        {
            std::lock_guard lock(mutex);
            if (retired) {
                checked_out.erase(connection.get());
                waiter = pass_slot_locked();
            } else if (waiters.empty()) {
                checked_out.erase(connection.get());
                connection->idle_since = Clock::now();
                idle.push_back(std::move(connection));
                return;
            } else {
                waiter = std::move(waiters.front());
                waiters.pop_front();
                waiter->granted = true;
                waiter->connection = std::move(connection);  // stays checked out
            }
        }
        if (connection) connection->close();
        if (waiter) waiter->wakeup.try_send(boost::system::error_code{});
    }

    /// Its Client is gone: closes the idle connections now; those in use are closed when they end.
    void retire() {
        std::vector<std::unique_ptr<Connection>> closing;
        {
            std::lock_guard lock(mutex);
            retired = true;
            open -= static_cast<int>(idle.size());
            closing.swap(idle);
        }
        for (auto& connection : closing) connection->close();
    }

    /// Its context shuts down: destroys the sockets and timers of every connection (idle, in use or
    /// handed to a waiter) and drops the waiters' channels, so nothing bound to the context remains.
    /// Leases that outlive the context then find a dead pool and connections without I/O objects.
    void shutdown() noexcept {
        std::vector<std::unique_ptr<Connection>> closing;
        std::deque<std::shared_ptr<Waiter>> waiting;  // destroyed after the lock is released
        asio::any_io_executor old_executor;
        {
            std::lock_guard lock(mutex);
            retired = dead = true;
            for (Connection* connection : checked_out) connection->release_io();
            checked_out.clear();
            closing.swap(idle);
            waiting.swap(waiters);
            old_executor = std::exchange(executor, asio::any_io_executor{});
            open = 0;
        }
        for (auto& connection : closing) connection->release_io();
    }

private:
    /// Hands a freed slot to the first waiter (returned, to be woken outside the lock) or shrinks.
    std::shared_ptr<Waiter> pass_slot_locked() {
        if (waiters.empty()) {
            if (open > 0) --open;
            return nullptr;
        }
        std::shared_ptr<Waiter> waiter = std::move(waiters.front());
        waiters.pop_front();
        waiter->granted = true;
        return waiter;
    }
};

/// All pools of one execution context, for every Client that used it. Owned by the context's
/// PoolService; Clients hold weak references.
class ContextPools {
public:
    /// The pool of `client` for `key` on `executor`, or null.
    std::shared_ptr<Pool> find(std::uint64_t client, const std::string& key, const asio::any_io_executor& executor) {
        std::lock_guard lock(mutex_);
        return find_locked(client, key, executor);
    }

    /// Adds `pool` unless one for the same (client, key, executor) appeared meanwhile. Returns the pool
    /// to use and whether `pool` was added.
    std::pair<std::shared_ptr<Pool>, bool> add(std::uint64_t client, const std::string& key,
                                               std::shared_ptr<Pool> pool) {
        std::lock_guard lock(mutex_);
        if (auto existing = find_locked(client, key, pool->executor)) return {existing, false};
        if (!dead_) pools_[{client, key}].push_back(pool);
        return {std::move(pool), true};
    }

    /// `client` is being destroyed: retires its pools here (idle connections closed now, the rest when
    /// they end). The retired pools stay reachable by shutdown() while leases hold them.
    void release_client(std::uint64_t client) {
        std::lock_guard lock(mutex_);
        if (dead_) return;
        std::erase_if(retired_, [](const std::weak_ptr<Pool>& pool) { return pool.expired(); });
        auto it = pools_.lower_bound({client, std::string()});
        while (it != pools_.end() && it->first.first == client) {
            for (const auto& pool : it->second) {
                pool->retire();
                retired_.push_back(pool);
            }
            it = pools_.erase(it);
        }
    }

    /// The context shuts down (may be called more than once): every pool is shut down and forgotten.
    void shutdown() noexcept {
        std::lock_guard lock(mutex_);
        dead_ = true;
        for (auto& [key, list] : pools_)
            for (const auto& pool : list) pool->shutdown();
        for (const auto& weak : retired_)
            if (auto pool = weak.lock()) pool->shutdown();
        pools_.clear();
        retired_.clear();
    }

private:
    std::shared_ptr<Pool> find_locked(std::uint64_t client, const std::string& key,
                                      const asio::any_io_executor& executor) {
        auto it = pools_.find({client, key});
        if (it == pools_.end()) return nullptr;
        for (const auto& pool : it->second)
            if (pool->executor == executor) return pool;
        return nullptr;
    }

    std::mutex mutex_;  // taken before any Pool::mutex
    bool dead_ = false;
    std::map<std::pair<std::uint64_t, std::string>, std::vector<std::shared_ptr<Pool>>> pools_;
    std::vector<std::weak_ptr<Pool>> retired_;
};

/// Ties an execution context's pools to its lifetime: shutdown() runs while the context is destroyed,
/// before its I/O services go away.
class PoolService final : public asio::execution_context::service {
public:
    static asio::execution_context::id id;

    explicit PoolService(asio::execution_context& context)
        : asio::execution_context::service(context), pools_(std::make_shared<ContextPools>()) {}

    const std::shared_ptr<ContextPools>& pools() const noexcept { return pools_; }

private:
    void shutdown() override { pools_->shutdown(); }

    std::shared_ptr<ContextPools> pools_;
};

asio::execution_context::id PoolService::id;

/// RAII ownership of one pool slot and, once connected, its connection. Destroying a lease that still
/// holds its connection closes it: only give_back() returns a connection to the pool.
class Lease {
public:
    Lease() = default;
    Lease(std::shared_ptr<Pool> pool, std::unique_ptr<Connection> connection, bool reused)
        : pool_(std::move(pool)), connection_(std::move(connection)), reused_(reused) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept {
        if (this != &other) {
            discard();
            pool_ = std::move(other.pool_);
            connection_ = std::move(other.connection_);
            reused_ = other.reused_;
        }
        return *this;
    }
    ~Lease() { discard(); }

    Connection& connection() noexcept { return *connection_; }
    bool connected() const noexcept { return connection_ != nullptr; }
    bool reused() const noexcept { return reused_; }
    /// Takes a freshly opened connection; the pool tracks it so its context's shutdown can reach it.
    void attach(std::unique_ptr<Connection> connection) {
        pool_->track(connection.get());
        connection_ = std::move(connection);
    }

    /// Closes the connection (if any) and frees the slot.
    void discard() noexcept {
        if (!pool_) return;
        std::exchange(pool_, nullptr)->discard(std::move(connection_));
    }
    /// Returns the connection to the pool for the next request.
    void give_back() {
        if (!pool_) return;
        std::exchange(pool_, nullptr)->put_back(std::move(connection_));
    }

private:
    std::shared_ptr<Pool> pool_;
    std::unique_ptr<Connection> connection_;
    bool reused_ = false;
};

/// Ends a wait for a pool slot however the waiting coroutine leaves: a slot granted meanwhile is
/// taken (take()) or passed on (destructor), an ungranted waiter is removed from the queue.
class WaitGuard {
public:
    WaitGuard(std::shared_ptr<Pool> pool, std::shared_ptr<Waiter> waiter)
        : pool_(std::move(pool)), waiter_(std::move(waiter)) {}
    WaitGuard(const WaitGuard&) = delete;
    WaitGuard& operator=(const WaitGuard&) = delete;
    ~WaitGuard() {
        std::optional<Lease> lease = take(false);
        if (lease && lease->connected()) lease->give_back();  // else its destructor frees the slot
    }

    /// The granted slot as a lease, or std::nullopt when none was granted (the waiter then leaves).
    std::optional<Lease> take(bool count_reuse = true) {
        if (!waiter_) return std::nullopt;
        auto waiter = std::exchange(waiter_, nullptr);
        std::unique_lock lock(pool_->mutex);
        if (!waiter->granted) {
            // A dead pool has already dropped its queue.
            auto queued = std::find(pool_->waiters.begin(), pool_->waiters.end(), waiter);
            if (queued != pool_->waiters.end()) pool_->waiters.erase(queued);
            return std::nullopt;
        }
        std::unique_ptr<Connection> handed = std::move(waiter->connection);
        lock.unlock();
        const bool reused = handed != nullptr;
        if (reused && count_reuse) ++pool_->counters->reused;
        return Lease(pool_, std::move(handed), reused);
    }

private:
    std::shared_ptr<Pool> pool_;
    std::shared_ptr<Waiter> waiter_;
};

bool is_cancelled(const asio::cancellation_state& state) {
    return state.cancelled() != asio::cancellation_type::none;
}

/// Takes an idle connection or a slot for a new one, waiting (bounded by the connect timeout) while
/// the pool is full.
asio::awaitable<Lease> acquire(std::shared_ptr<Pool> pool, ResolvedSettings::Http settings) {
    std::unique_ptr<Connection> reusable;
    std::shared_ptr<Waiter> waiter;
    {
        std::vector<std::unique_ptr<Connection>> expired;
        {
            std::lock_guard lock(pool->mutex);
            const auto now = Clock::now();
            while (!pool->idle.empty()) {
                std::unique_ptr<Connection> candidate = std::move(pool->idle.back());
                pool->idle.pop_back();
                if (now - candidate->idle_since < settings.pool_idle_timeout && candidate->idle_and_open()) {
                    reusable = std::move(candidate);
                    pool->checked_out.insert(reusable.get());
                    break;
                }
                --pool->open;
                expired.push_back(std::move(candidate));
            }
            // The least recently used idle connections are the first to expire.
            auto& idle = pool->idle;
            auto fresh = std::find_if(idle.begin(), idle.end(), [&](const auto& c) {
                return now - c->idle_since < settings.pool_idle_timeout;
            });
            for (auto it = idle.begin(); it != fresh; ++it) {
                --pool->open;
                expired.push_back(std::move(*it));
            }
            idle.erase(idle.begin(), fresh);
            if (!reusable) {
                if (pool->open < std::max(1, settings.max_connections_per_origin)) {
                    ++pool->open;
                } else {
                    waiter = std::make_shared<Waiter>(pool->executor);
                    pool->waiters.push_back(waiter);
                }
            }
        }
        for (auto& connection : expired) connection->close();
    }
    if (reusable) {
        ++pool->counters->reused;
        co_return Lease(pool, std::move(reusable), true);
    }
    if (!waiter) co_return Lease(pool, nullptr, false);

    // The pool is full: wait for a slot, at most the connect timeout.
    WaitGuard guard{pool, waiter};
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, settings.connect_timeout);
    timer.async_wait([waiter](boost::system::error_code ec) {
        if (!ec) waiter->wakeup.cancel();
    });
    boost::system::error_code ec;
    co_await waiter->wakeup.async_receive(asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (std::optional<Lease> lease = guard.take()) co_return std::move(*lease);
    asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    Diagnostics diagnostics;
    diagnostics.phase = "connect";
    if (is_cancelled(state)) {
        diagnostics.message = "cancelled while waiting for a free connection";
        throw CommandError(ErrorKind::cancelled,
                           "HTTP request to " + pool->endpoint.url_authority + " " + diagnostics.message,
                           diagnostics);
    }
    diagnostics.retryable = true;
    diagnostics.message = "no free connection within " + std::to_string(settings.connect_timeout.count()) +
                          " ms (max_connections_per_origin = " +
                          std::to_string(settings.max_connections_per_origin) + ")";
    throw CommandError(ErrorKind::timeout,
                       "HTTP request to " + pool->endpoint.url_authority + ": " + diagnostics.message,
                       diagnostics);
}

std::uint64_t next_client_id() {
    static std::atomic<std::uint64_t> next{1};
    return next++;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Client state

struct Client::Impl {
    ProxyConfig proxy;
    const std::uint64_t id = next_client_id();  // never reused, unlike addresses
    std::shared_ptr<Counters> counters = std::make_shared<Counters>();
    TlsContextCache tls_contexts;

    std::mutex mutex;
    std::vector<std::weak_ptr<ContextPools>> contexts;  // where this client has pools

    std::shared_ptr<Pool> pool_for(const asio::any_io_executor& executor, const Url& url,
                                   const ResolvedSettings::Http& settings) {
        std::string key = url.scheme + "://" + url.authority();
        if (url.tls()) key += "|" + std::to_string(settings.insecure_skip_tls_verify) + "|" + settings.ca_file;
        asio::execution_context& context = asio::query(executor, asio::execution::context);
        std::shared_ptr<ContextPools> pools = asio::use_service<PoolService>(context).pools();
        if (auto pool = pools->find(id, key, executor)) return pool;
        // Built outside the locks: the TLS context may read a CA file.
        auto pool = std::make_shared<Pool>();
        pool->executor = executor;
        pool->counters = counters;
        pool->endpoint = make_endpoint(url, proxy, tls_contexts, settings);
        auto [chosen, added] = pools->add(id, key, std::move(pool));
        if (added) remember(pools);
        return chosen;
    }

    /// Notes that `pools` holds pools of this client, forgetting contexts that are gone.
    void remember(const std::shared_ptr<ContextPools>& pools) {
        std::lock_guard lock(mutex);
        std::erase_if(contexts, [](const std::weak_ptr<ContextPools>& known) { return known.expired(); });
        for (const auto& known : contexts)
            if (known.lock() == pools) return;
        contexts.push_back(pools);
    }

    /// Retires this client's pools in every execution context still alive.
    void release_pools() noexcept {
        std::vector<std::weak_ptr<ContextPools>> known;
        {
            std::lock_guard lock(mutex);
            known.swap(contexts);
        }
        for (const auto& weak : known)
            if (auto pools = weak.lock()) pools->release_client(id);
    }
};

Client::Client() : Client(ProxyConfig::from_env()) {}

Client::Client(ProxyConfig proxy) : impl_(std::make_shared<Impl>()) { impl_->proxy = std::move(proxy); }

Client::~Client() { impl_->release_pools(); }

Client::Stats Client::stats() const {
    return Stats{impl_->counters->opened.load(), impl_->counters->reused.load()};
}

// ---------------------------------------------------------------------------------------------------
// The exchange

namespace {

using Parser = bhttp::response_parser<bhttp::buffer_body>;
constexpr std::size_t read_chunk_bytes = 16 * 1024;

bhttp::request<bhttp::string_body> build_request(const Request& request, const Url& url,
                                                 const Endpoint& endpoint) {
    bhttp::request<bhttp::string_body> message;
    message.version(11);
    const bhttp::verb verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown)
        message.method_string(request.method);
    else
        message.method(verb);
    // Plain HTTP through a proxy uses the absolute form; a CONNECT tunnel carries origin-form.
    message.target(endpoint.proxy && !url.tls() ? url.absolute_form() : url.target);
    message.set(bhttp::field::host, url.host_header());
    message.set(bhttp::field::user_agent, "alloy-cpp/0.1");
    for (const auto& [name, value] : request.headers.items) message.set(name, value);
    if (endpoint.proxy && !url.tls() && !endpoint.proxy->authorization.empty())
        message.set(bhttp::field::proxy_authorization, endpoint.proxy->authorization);
    message.body() = request.body;
    message.prepare_payload();
    return message;
}

Headers headers_of(const Parser& parser) {
    Headers headers;
    for (const auto& field : parser.get())
        headers.items.emplace_back(to_lower(field.name_string()), std::string(field.value()));
    return headers;
}

/// Outcome of an I/O step: an error code and where it happened.
struct Failure {
    boost::system::error_code ec;
    const char* phase = "";
    std::chrono::milliseconds limit{0};
    bool response_started = false;  // a byte of the response had arrived
};

[[noreturn]] void throw_failure(const Failure& failure, const std::string& authority, bool cancelled) {
    Diagnostics diagnostics;
    diagnostics.phase = failure.phase;
    ErrorKind kind = ErrorKind::connection;
    const auto& ec = failure.ec;
    if (cancelled || ec == asio::error::operation_aborted) {
        kind = ErrorKind::cancelled;
        diagnostics.message = "cancelled";
    } else if (ec == beast::error::timeout) {
        kind = ErrorKind::timeout;
        diagnostics.message = "timed out after " + std::to_string(failure.limit.count()) + " ms";
        diagnostics.retryable = !failure.response_started;
    } else if (ec == bhttp::error::body_limit || ec == bhttp::error::buffer_overflow) {
        kind = ErrorKind::response_too_large;
        diagnostics.message = "response larger than the configured limit";
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() && ec != bhttp::error::end_of_stream &&
               ec != bhttp::error::partial_message) {
        kind = ErrorKind::protocol;
        diagnostics.message = "malformed HTTP response: " + ec.message();
    } else {
        diagnostics.message = ec == bhttp::error::end_of_stream ? "connection closed by the server"
                                                                 : ec.message();
        diagnostics.retryable = !failure.response_started;
    }
    throw CommandError(kind,
                       "HTTP request to " + authority + " failed in phase " + failure.phase + ": " +
                           diagnostics.message,
                       diagnostics);
}

/// Writes the request and reads the response headers. Returns a failure instead of throwing so the
/// caller can retry a stale pooled connection.
asio::awaitable<std::optional<Failure>> exchange(Connection& connection,
                                                 const bhttp::request<bhttp::string_body>& message,
                                                 Parser& parser, ResolvedSettings::Http settings) {
    boost::system::error_code ec;
    connection.tcp().expires_after(settings.write_timeout);
    if (connection.tls) {
        const std::size_t written =
            co_await bhttp::async_write(*connection.tls, message, asio::redirect_error(asio::use_awaitable, ec));
        (void)written;
    } else {
        const std::size_t written =
            co_await bhttp::async_write(*connection.plain, message, asio::redirect_error(asio::use_awaitable, ec));
        (void)written;
    }
    if (ec) co_return Failure{ec, "write", settings.write_timeout, false};

    connection.tcp().expires_after(settings.first_byte_timeout);
    if (connection.tls) {
        const std::size_t read = co_await bhttp::async_read_header(
            *connection.tls, connection.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        (void)read;
    } else {
        const std::size_t read = co_await bhttp::async_read_header(
            *connection.plain, connection.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        (void)read;
    }
    if (ec) co_return Failure{ec, "first_byte", settings.first_byte_timeout, parser.got_some()};
    co_return std::nullopt;
}

/// A stale keep-alive connection: the server closed it while it was idle, so the request failed
/// before any byte of a response arrived.
bool looks_stale(const Failure& failure) {
    if (failure.response_started) return false;
    const auto& ec = failure.ec;
    return ec != beast::error::timeout && ec != asio::error::operation_aborted &&
           ec != bhttp::error::body_limit;
}

class StreamImpl final : public ResponseStream {
public:
    StreamImpl(Lease lease, std::unique_ptr<Parser> parser, std::string authority,
               ResolvedSettings::Http settings)
        : lease_(std::move(lease)),
          parser_(std::move(parser)),
          headers_(headers_of(*parser_)),
          status_(static_cast<int>(parser_->get().result_int())),
          authority_(std::move(authority)),
          settings_(settings) {
        if (parser_->is_done()) finish();
    }

    int status() const noexcept override { return status_; }
    const Headers& headers() const noexcept override { return headers_; }

    asio::awaitable<std::optional<std::string>> next_chunk() override {
        try {
            std::optional<std::string> chunk = co_await read_some();
            co_return chunk;
        } catch (const boost::system::system_error& error) {
            // Raised by the coroutine machinery when cancellation was requested between operations.
            if (error.code() != asio::error::operation_aborted) throw;
        }
        lease_.discard();
        done_ = true;
        throw_failure(Failure{asio::error::operation_aborted, "read", {}, true}, authority_, true);
    }

    asio::awaitable<std::string> read_rest() override {
        std::string body;
        for (;;) {
            std::optional<std::string> chunk = co_await next_chunk();
            if (!chunk) break;
            if (body.empty())
                body = std::move(*chunk);
            else
                body += *chunk;
        }
        co_return body;
    }

private:
    asio::awaitable<std::optional<std::string>> read_some() {
        while (!done_) {
            // Size the buffer to the body still expected when the length is known: zero-filling a full
            // 16 KiB buffer per read was the largest single cost of a small JSON response.
            std::size_t want = read_chunk_bytes;
            if (const auto left = parser_->content_length_remaining(); left && *left > 0 && *left < want)
                want = static_cast<std::size_t>(*left);
            std::string chunk(want, '\0');
            auto& body = parser_->get().body();
            body.data = chunk.data();
            body.size = chunk.size();
            boost::system::error_code ec;
            Connection& connection = lease_.connection();
            connection.tcp().expires_after(settings_.stream_idle_timeout);
            if (connection.tls) {
                const std::size_t read = co_await bhttp::async_read_some(
                    *connection.tls, connection.buffer, *parser_, asio::redirect_error(asio::use_awaitable, ec));
                (void)read;
            } else {
                const std::size_t read = co_await bhttp::async_read_some(
                    *connection.plain, connection.buffer, *parser_, asio::redirect_error(asio::use_awaitable, ec));
                (void)read;
            }
            if (ec == bhttp::error::need_buffer) ec = {};
            if (ec) {
                asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
                lease_.discard();
                done_ = true;
                const bool timeout = ec == beast::error::timeout;
                throw_failure(Failure{ec, timeout ? "stream_idle" : "read", settings_.stream_idle_timeout, true},
                              authority_, is_cancelled(state));
            }
            const std::size_t received = chunk.size() - parser_->get().body().size;
            // Return the connection as soon as the body is complete, even if the caller stops here.
            if (parser_->is_done()) finish();
            if (received > 0) {
                chunk.resize(received);
                co_return chunk;
            }
        }
        co_return std::nullopt;
    }

    void finish() {
        done_ = true;
        const auto& message = parser_->get();
        if (message.keep_alive() && !parser_->need_eof() && lease_.connection().buffer.size() == 0)
            lease_.give_back();
        else
            lease_.discard();
    }

    Lease lease_;
    std::unique_ptr<Parser> parser_;
    Headers headers_;
    int status_;
    std::string authority_;
    ResolvedSettings::Http settings_;
    bool done_ = false;
};

asio::awaitable<std::unique_ptr<ResponseStream>> open_stream(std::shared_ptr<Pool> pool, Url url,
                                                             Request request,
                                                             ResolvedSettings::Http settings) {
    const auto message = build_request(request, url, pool->endpoint);
    const std::string& authority = pool->endpoint.url_authority;
    for (int attempt = 0;; ++attempt) {
        Lease lease = co_await acquire(pool, settings);
        if (!lease.connected()) {
            std::unique_ptr<Connection> connection = co_await connect(pool->endpoint, settings);
            ++pool->counters->opened;
            lease.attach(std::move(connection));
        }
        auto parser = std::make_unique<Parser>();
        parser->body_limit(settings.max_response_bytes);
        parser->header_limit(64 * 1024);
        if (bhttp::string_to_verb(request.method) == bhttp::verb::head) parser->skip(true);
        std::optional<Failure> failure = co_await exchange(lease.connection(), message, *parser, settings);
        if (!failure) co_return std::make_unique<StreamImpl>(std::move(lease), std::move(parser), authority, settings);

        asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        const bool cancelled = is_cancelled(state);
        const bool retry_stale = lease.reused() && attempt == 0 && !cancelled && looks_stale(*failure);
        lease.discard();
        if (!retry_stale) throw_failure(*failure, authority, cancelled);
    }
}

}  // namespace

asio::awaitable<std::unique_ptr<ResponseStream>> Client::open(Request request, ResolvedSettings::Http settings) {
    const Url url = parse_url(request.url);
    auto executor = co_await asio::this_coro::executor;
    std::shared_ptr<Pool> pool = impl_->pool_for(executor, url, settings);
    try {
        std::unique_ptr<ResponseStream> stream = co_await open_stream(pool, url, std::move(request), settings);
        co_return stream;
    } catch (const boost::system::system_error& error) {
        // Raised by the coroutine machinery when cancellation was requested between operations.
        if (error.code() != asio::error::operation_aborted) throw;
    }
    throw_failure(Failure{asio::error::operation_aborted, "connect", {}, false}, url.authority(), true);
}

asio::awaitable<Response> Client::send(Request request, ResolvedSettings::Http settings) {
    std::unique_ptr<ResponseStream> stream = co_await open(std::move(request), settings);
    Response response;
    response.body = co_await stream->read_rest();
    response.status = stream->status();
    response.headers = stream->headers();
    co_return response;
}

}  // namespace alloy::http
