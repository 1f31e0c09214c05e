// HTTP/1.1 client: connection pools, the request/response exchange and the streamed body.
#include "http/client.hpp"

#include "http/connection.hpp"
#include "http/url.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <array>
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

// Header names are ASCII tokens: fold case without the locale (std::tolower is a call per byte).
constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = ascii_lower(c);
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

/// Orders (client id, pool key) pairs and lets lookups use a string_view key (no copy per request).
struct PoolKeyLess {
    using is_transparent = void;
    template <class Left, class Right>
    bool operator()(const Left& left, const Right& right) const noexcept {
        return std::pair<std::uint64_t, std::string_view>(left.first, left.second) <
               std::pair<std::uint64_t, std::string_view>(right.first, right.second);
    }
};

/// All pools of one execution context, for every Client that used it. Owned by the context's
/// PoolService; Clients hold weak references.
class ContextPools {
public:
    /// The pool of `client` for `key` on `executor`, or null.
    std::shared_ptr<Pool> find(std::uint64_t client, std::string_view key, const asio::any_io_executor& executor) {
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
        auto it = pools_.lower_bound(std::pair<std::uint64_t, std::string_view>(client, {}));
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
    std::shared_ptr<Pool> find_locked(std::uint64_t client, std::string_view key,
                                      const asio::any_io_executor& executor) {
        auto it = pools_.find(std::pair<std::uint64_t, std::string_view>(client, key));
        if (it == pools_.end()) return nullptr;
        for (const auto& pool : it->second)
            if (pool->executor == executor) return pool;
        return nullptr;
    }

    std::mutex mutex_;  // taken before any Pool::mutex
    bool dead_ = false;
    std::map<std::pair<std::uint64_t, std::string>, std::vector<std::shared_ptr<Pool>>, PoolKeyLess> pools_;
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

/// An idle connection reused within this time is not checked before the request is written: under
/// load the check (a failed non-blocking recv per request) is pure overhead, and a connection the
/// server closed that quickly fails before any response byte, which the stale retry handles.
constexpr std::chrono::milliseconds liveness_check_after{200};

/// What take_slot() found: a lease (an idle connection, or a slot for a new one), or a full pool.
struct Slot {
    Lease lease;
    std::shared_ptr<Waiter> waiter;  // set when the pool is full and the caller queued to wait
    bool full = false;               // the pool is full (a waiter was queued only if asked)
};

/// Takes an idle connection or a slot for a new one without waiting, expiring idle connections on
/// the way. When the pool is full, queues a waiter if `queue` (else takes nothing). `check_all`
/// checks every idle candidate for liveness, not only those idle for a while (the stale retry).
Slot take_slot(const std::shared_ptr<Pool>& pool, const ResolvedSettings::Http& settings, bool check_all,
               bool queue) {
    Slot slot;
    std::unique_ptr<Connection> reusable;
    std::vector<std::unique_ptr<Connection>> expired;
    {
        std::lock_guard lock(pool->mutex);
        const auto now = Clock::now();
        while (!pool->idle.empty()) {
            std::unique_ptr<Connection> candidate = std::move(pool->idle.back());
            pool->idle.pop_back();
            const auto idle_for = now - candidate->idle_since;
            const bool check = check_all || idle_for >= liveness_check_after;
            if (idle_for < settings.pool_idle_timeout && (!check || candidate->idle_and_open())) {
                reusable = std::move(candidate);
                pool->checked_out.insert(reusable.get());
                break;
            }
            --pool->open;
            expired.push_back(std::move(candidate));
        }
        // The least recently used idle connections are the first to expire.
        auto& idle = pool->idle;
        if (!idle.empty() && now - idle.front()->idle_since >= settings.pool_idle_timeout) {
            auto fresh = std::find_if(idle.begin(), idle.end(), [&](const auto& c) {
                return now - c->idle_since < settings.pool_idle_timeout;
            });
            for (auto it = idle.begin(); it != fresh; ++it) {
                --pool->open;
                expired.push_back(std::move(*it));
            }
            idle.erase(idle.begin(), fresh);
        }
        if (!reusable) {
            if (pool->open < std::max(1, settings.max_connections_per_origin)) {
                ++pool->open;
            } else {
                slot.full = true;
                if (queue) {
                    slot.waiter = std::make_shared<Waiter>(pool->executor);
                    pool->waiters.push_back(slot.waiter);
                }
            }
        }
    }
    for (auto& connection : expired) connection->close();
    if (reusable) {
        ++pool->counters->reused;
        slot.lease = Lease(pool, std::move(reusable), true);
    } else if (!slot.full) {
        slot.lease = Lease(pool, nullptr, false);
    }
    return slot;
}

/// Like take_slot(), but waits (bounded by the connect timeout) while the pool is full. The slow path
/// of acquiring: the exchange calls take_slot() itself first.
asio::awaitable<Lease> acquire(std::shared_ptr<Pool> pool, ResolvedSettings::Http settings, bool check_all) {
    Slot slot = take_slot(pool, settings, check_all, true);
    if (!slot.full) co_return std::move(slot.lease);
    std::shared_ptr<Waiter> waiter = std::move(slot.waiter);

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

/// A parsed request URL and the origin part of its pool key, cached per URL string: providers send
/// every request to one of a few URLs, and parsing one costs more than the rest of the lookup.
struct Route {
    Url url;
    std::string origin_key;  // "scheme://host:port"
};

struct Client::Impl {
    ProxyConfig proxy;
    const std::uint64_t id = next_client_id();  // never reused, unlike addresses
    std::shared_ptr<Counters> counters = std::make_shared<Counters>();
    TlsContextCache tls_contexts;

    std::mutex mutex;
    std::vector<std::weak_ptr<ContextPools>> contexts;  // where this client has pools

    std::mutex routes_mutex;
    std::map<std::string, std::shared_ptr<const Route>, std::less<>> routes;
    static constexpr std::size_t max_routes = 64;  // a client sending to ever new URLs starts over

    /// The parsed form of `text`. Throws ConfigurationError for a malformed URL (never cached).
    std::shared_ptr<const Route> route_for(std::string_view text) {
        {
            std::lock_guard lock(routes_mutex);
            if (auto it = routes.find(text); it != routes.end()) return it->second;
        }
        auto route = std::make_shared<Route>();
        route->url = parse_url(text);
        route->origin_key = route->url.scheme + "://" + route->url.authority();
        std::lock_guard lock(routes_mutex);
        if (routes.size() >= max_routes) routes.clear();
        routes.emplace(std::string(text), route);
        return route;
    }

    std::shared_ptr<Pool> pool_for(const asio::any_io_executor& executor, const Route& route,
                                   const ResolvedSettings::Http& settings) {
        const Url& url = route.url;
        std::string tls_key;
        if (url.tls())
            tls_key = route.origin_key + "|" + std::to_string(settings.insecure_skip_tls_verify) + "|" +
                      settings.ca_file;
        const std::string& key = url.tls() ? tls_key : route.origin_key;
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
// The request head

namespace {

constexpr std::string_view default_user_agent = "alloy-cpp/0.1";

/// An RFC 9110 token: what a method or a header name may consist of.
bool is_token(std::string_view text) noexcept {
    constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
    return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               specials.find(c) != std::string_view::npos;
    });
}

/// `text` for an error message: control and non-ASCII bytes escaped, at most 64 characters shown.
std::string printable(std::string_view text) {
    constexpr std::size_t shown = 64;
    std::string out;
    for (const char c : text.substr(0, shown)) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f) {
            out += c;
        } else {
            constexpr char digits[] = "0123456789abcdef";
            out += "\\x";
            out += digits[byte >> 4];
            out += digits[byte & 0xf];
        }
    }
    if (text.size() > shown) out += "...";
    return out;
}

/// Throws ConfigurationError unless the method and every header can be written as they are: a value
/// with CR or LF would let it inject headers or a second request. Messages never show a value.
void validate(const Request& request) {
    if (!is_token(request.method))
        throw ConfigurationError("invalid HTTP method '" + printable(request.method) + "' (not an HTTP token)");
    constexpr std::string_view forbidden("\r\n\0", 3);
    for (const auto& [name, value] : request.headers.items) {
        if (!is_token(name))
            throw ConfigurationError("invalid HTTP header name '" + printable(name) + "' (not an HTTP token)");
        if (value.find_first_of(forbidden) != std::string::npos)
            throw ConfigurationError("invalid value for HTTP header '" + name + "': it contains CR, LF or NUL");
    }
}

/// The request line and header block of `request`, up to and including the empty line, in one string
/// written together with the body. Host and User-Agent come first unless the request sets them; then
/// the request's headers (a name given twice keeps its last value, like Headers::set); then
/// Proxy-Authorization for plain HTTP through a proxy with credentials; then Content-Length when there
/// is a body or the method is POST, PUT or OPTIONS. Request headers named Content-Length or
/// Transfer-Encoding are left out: the client frames the body. Throws ConfigurationError (validate()).
std::string serialize_head(const Request& request, const Url& url, const Endpoint& endpoint) {
    validate(request);
    // Plain HTTP through a proxy uses the absolute form; a CONNECT tunnel carries origin-form.
    const bool absolute_form = endpoint.proxy && !url.tls();
    const bool proxy_authorization = absolute_form && !endpoint.proxy->authorization.empty();
    const std::string host = url.host_header();
    const auto& items = request.headers.items;

    // A header is written unless a later one of the same name replaces it or the client owns it.
    auto written = [&](std::size_t index) {
        const std::string& name = items[index].first;
        for (std::size_t later = index + 1; later < items.size(); ++later)
            if (iequals(items[later].first, name)) return false;
        return !iequals(name, "content-length") && !iequals(name, "transfer-encoding") &&
               !(proxy_authorization && iequals(name, "proxy-authorization"));
    };
    bool own_host = false;
    bool own_user_agent = false;
    std::size_t size = request.method.size() + url.target.size() + host.size() + 128;
    if (absolute_form) size += url.scheme.size() + 3 + host.size();
    if (proxy_authorization) size += endpoint.proxy->authorization.size();
    for (const auto& [name, value] : items) {
        size += name.size() + value.size() + 4;
        own_host = own_host || iequals(name, "host");
        own_user_agent = own_user_agent || iequals(name, "user-agent");
    }

    std::string head;
    head.reserve(size);
    auto line = [&head](std::string_view name, std::string_view value) {
        head.append(name).append(": ").append(value).append("\r\n");
    };
    head.append(request.method).append(" ");
    if (absolute_form) head.append(url.scheme).append("://").append(host);
    head.append(url.target).append(" HTTP/1.1\r\n");
    if (!own_host) line("Host", host);
    if (!own_user_agent) line("User-Agent", default_user_agent);
    for (std::size_t i = 0; i < items.size(); ++i)
        if (written(i)) line(items[i].first, items[i].second);
    if (proxy_authorization) line("Proxy-Authorization", endpoint.proxy->authorization);
    const std::string_view method = request.method;
    if (!request.body.empty() || method == "POST" || method == "PUT" || method == "OPTIONS")
        line("Content-Length", std::to_string(request.body.size()));
    head.append("\r\n");
    return head;
}

// ---------------------------------------------------------------------------------------------------
// The response

/// Beast's HTTP/1.1 response parser, writing the head straight into Headers (names lower-cased) and
/// the body into the string `sink` points at, without Beast's message and field containers.
class ResponseParser final : public bhttp::basic_parser<false> {
public:
    ResponseParser() = default;

    int status = 0;
    Headers headers;
    std::string* sink = nullptr;  ///< where body bytes go; set only while a read parses the body

private:
    void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
    void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
        status = code;
        // Reserved only once the response starts: a parser waits for it, empty, in every in-flight request.
        headers.items.reserve(8);
    }
    void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                       beast::error_code&) override {
        headers.items.emplace_back(to_lower(name), std::string(value));
    }
    void on_header_impl(beast::error_code&) override {}
    // The body is sized by SinkScope when a read starts: the head is parsed before any sink is set.
    void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
    std::size_t on_body_impl(beast::string_view body, beast::error_code& ec) override { return take(body, ec); }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code& ec) override {
        return take(body, ec);
    }
    void on_finish_impl(beast::error_code&) override {}

    std::size_t take(beast::string_view body, beast::error_code& ec) {
        if (!sink) {  // body bytes outside a read (cannot happen: reads set the sink first)
            ec = bhttp::error::need_buffer;
            return 0;
        }
        sink->append(body.data(), body.size());
        return body.size();
    }
};

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

/// A stale keep-alive connection: the server closed it while it was idle, so the request failed
/// before any byte of a response arrived.
bool looks_stale(const Failure& failure) {
    if (failure.response_started) return false;
    const auto& ec = failure.ec;
    return ec != beast::error::timeout && ec != asio::error::operation_aborted &&
           ec != bhttp::error::body_limit;
}

/// One request on one leased connection, from writing the request to the end of the response body.
/// Lives in the frame of Client::exchange() (send) or in a ResponseStream (open).
struct Exchange {
    Exchange(std::shared_ptr<Pool> pool_, std::chrono::milliseconds stream_idle_timeout_)
        : pool(std::move(pool_)), stream_idle_timeout(stream_idle_timeout_) {}

    std::shared_ptr<Pool> pool;  // keeps the endpoint (its authority names failures) alive
    std::chrono::milliseconds stream_idle_timeout;
    Lease lease;
    std::optional<ResponseParser> parser;  // one per attempt
    boost::system::error_code parse_error; // from parsing buffered bytes, reported by the next read
    bool done = false;  // the body ended or a read failed: the connection is no longer used here

    const std::string& authority() const noexcept { return pool->endpoint.url_authority; }

    /// The body ended: the connection goes back to the pool when it may carry another request.
    void finish() {
        done = true;
        if (parser->keep_alive() && lease.connection().buffer.size() == 0)
            lease.give_back();
        else
            lease.discard();
    }

    /// Parses the body bytes already received into the parser's sink, without I/O: most responses
    /// arrive with their head. Returns the parse error (also kept for the next read).
    boost::system::error_code parse_buffered() {
        if (done || parse_error) return parse_error;
        auto& buffer = lease.connection().buffer;
        boost::system::error_code ec;
        while (!parser->is_done() && buffer.size() != 0) {
            const std::size_t used = parser->put(buffer.data(), ec);
            buffer.consume(used);
            if (ec == bhttp::error::need_more) {
                ec = {};
                break;
            }
            if (ec || used == 0) break;
        }
        if (ec)
            parse_error = ec;
        else if (parser->is_done())
            finish();
        return ec;
    }

    /// A read failed: closes the connection and throws.
    [[noreturn]] void fail(const boost::system::error_code& ec, bool cancelled) {
        lease.discard();
        done = true;
        const bool timeout = ec == beast::error::timeout;
        throw_failure(Failure{ec, timeout ? "stream_idle" : "read", stream_idle_timeout, true}, authority(),
                      cancelled);
    }
};

// The steps of Client::exchange() that do not suspend, as plain functions: the exchange coroutine's
// frame stays small (it is alive for every in-flight request).

/// Takes an idle connection or a slot for a new one into the exchange. Returns true when the pool is
/// full and the caller must wait for a slot with acquire().
bool prepare_attempt(Exchange& exchange, const ResolvedSettings::Http& settings, bool retry) {
    Slot slot = take_slot(exchange.pool, settings, retry, false);
    if (slot.full) return true;
    exchange.lease = std::move(slot.lease);
    return false;
}

/// A fresh response parser for this attempt, with the request's limits.
ResponseParser& start_parser(Exchange& exchange, const Request& request, const ResolvedSettings::Http& settings) {
    ResponseParser& parser = exchange.parser.emplace();
    parser.body_limit(settings.max_response_bytes);
    parser.header_limit(64 * 1024);
    if (request.method == "HEAD") parser.skip(true);
    return parser;
}

/// The response head arrived: from here on each put() parses all the body bytes it is given.
void head_received(Exchange& exchange) {
    exchange.parser->eager(true);
    if (exchange.parser->is_done()) exchange.finish();
}

/// Writing the request or reading the head failed: throws, unless a reused connection looks stale on
/// the first attempt (then the caller tries once more on another connection).
void attempt_failed(Exchange& exchange, const ResolvedSettings::Http& settings, const boost::system::error_code& ec,
                    const char* phase, bool retry, bool cancelled) {
    const bool writing = std::string_view(phase) == "write";
    const Failure failure{ec, phase, writing ? settings.write_timeout : settings.first_byte_timeout,
                          !writing && exchange.parser->got_some()};
    const bool retry_stale = exchange.lease.reused() && !retry && !cancelled && looks_stale(failure);
    exchange.lease.discard();
    if (!retry_stale) throw_failure(failure, exchange.authority(), cancelled);
}

/// Reads from the connection into its buffer: at most what one read delivers, bounded by the stream
/// idle timeout. Body bytes are parsed by the caller (Beast's read_some would keep reading until the
/// parser stops mid-structure, which for a chunked stream can be the end of the body).
template <class Stream>
asio::awaitable<std::size_t> read_into_buffer(Stream& stream, beast::flat_buffer& buffer, boost::system::error_code& ec) {
    // Grows the buffer only when it is nearly full (like Beast's reads): a connection keeps a small
    // buffer unless its responses are big, which matters with thousands of connections open.
    const std::size_t n = co_await stream.async_read_some(buffer.prepare(beast::read_size(buffer, 64 * 1024)),
                                                         asio::redirect_error(asio::use_awaitable, ec));
    buffer.commit(n);
    co_return n;
}

/// Reads body bytes into the parser's sink until the body ends (`whole`) or until some arrived; each
/// read is bounded by the stream idle timeout. The slow path of reading: callers try
/// Exchange::parse_buffered() first.
asio::awaitable<void> read_body(Exchange& exchange, bool whole) {
    ResponseParser& parser = *exchange.parser;
    try {
        for (;;) {
            boost::system::error_code ec = exchange.parse_buffered();
            if (!ec && (exchange.done || (!whole && !parser.sink->empty()))) co_return;
            if (!ec) {
                Connection& connection = exchange.lease.connection();
                connection.tcp().expires_after(exchange.stream_idle_timeout);
                if (connection.tls)
                    co_await read_into_buffer(*connection.tls, connection.buffer, ec);
                else
                    co_await read_into_buffer(*connection.plain, connection.buffer, ec);
                if (ec == asio::error::eof) {
                    // The end of a body delimited by the connection closing; anywhere else the body
                    // broke off (put_eof reports a partial message).
                    const bool close_delimited = parser.need_eof();
                    ec = {};
                    parser.put_eof(ec);
                    if (!ec && close_delimited) {
                        exchange.finish();
                        continue;
                    }
                    if (!ec) ec = bhttp::error::partial_message;
                }
            }
            if (ec) {
                asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
                exchange.fail(ec, is_cancelled(state));
            }
        }
    } catch (const boost::system::system_error& error) {
        // Raised by the coroutine machinery when cancellation was requested between operations.
        if (error.code() != asio::error::operation_aborted) throw;
    }
    exchange.lease.discard();
    exchange.done = true;
    throw_failure(Failure{asio::error::operation_aborted, "read", {}, true}, exchange.authority(), true);
}

/// Points the parser's sink at a string for the duration of one read.
class SinkScope {
public:
    SinkScope(ResponseParser& parser, std::string& sink, bool whole) : parser_(parser) {
        parser_.sink = &sink;
        // A whole body of known length lands in one allocation of its exact size (the parser has
        // already refused a Content-Length above the body limit).
        if (whole)
            if (const auto left = parser.content_length_remaining(); left)
                sink.reserve(sink.size() + static_cast<std::size_t>(*left));
    }
    ~SinkScope() { parser_.sink = nullptr; }
    SinkScope(const SinkScope&) = delete;
    SinkScope& operator=(const SinkScope&) = delete;

private:
    ResponseParser& parser_;
};

class StreamImpl final : public ResponseStream {
public:
    StreamImpl(std::shared_ptr<Pool> pool, std::chrono::milliseconds stream_idle_timeout)
        : exchange_(std::move(pool), stream_idle_timeout) {}

    Exchange& exchange() noexcept { return exchange_; }
    int status() const noexcept override { return exchange_.parser->status; }
    const Headers& headers() const noexcept override { return exchange_.parser->headers; }

    asio::awaitable<std::optional<std::string>> next_chunk() override {
        std::string chunk;
        {
            SinkScope scope(*exchange_.parser, chunk, false);
            const boost::system::error_code ec = exchange_.parse_buffered();
            if (ec || (!exchange_.done && chunk.empty())) co_await read_body(exchange_, false);
        }
        if (chunk.empty()) co_return std::nullopt;  // the body ended (or had ended before)
        co_return chunk;
    }

    asio::awaitable<std::string> read_rest() override {
        std::string body;
        {
            SinkScope scope(*exchange_.parser, body, true);
            const boost::system::error_code ec = exchange_.parse_buffered();
            if (ec || !exchange_.done) co_await read_body(exchange_, true);
        }
        co_return body;
    }

private:
    Exchange exchange_;
};

}  // namespace

// Writes the request and reads the response head, on an idle pooled connection or a new one; a
// reused connection that turns out stale is replaced once. The head is serialized once. Then reads the
// whole body (send) or hands the exchange to a ResponseStream (open).
template <bool Whole>
asio::awaitable<std::conditional_t<Whole, Response, std::unique_ptr<ResponseStream>>> Client::exchange(
    const Request& request, const ResolvedSettings::Http& settings) {
    const std::shared_ptr<const Route> route = impl_->route_for(request.url);
    auto executor = co_await asio::this_coro::executor;
    // send() keeps the exchange in this frame; open() in the stream it returns.
    std::conditional_t<Whole, Exchange, std::unique_ptr<StreamImpl>> owner = [&] {
        if constexpr (Whole)
            return Exchange(impl_->pool_for(executor, *route, settings), settings.stream_idle_timeout);
        else
            return std::make_unique<StreamImpl>(impl_->pool_for(executor, *route, settings),
                                                settings.stream_idle_timeout);
    }();
    Exchange& exchange = [&]() -> Exchange& {
        if constexpr (Whole) return owner;
        else return owner->exchange();
    }();
    const std::shared_ptr<Pool>& pool = exchange.pool;
    bool started = false;
    try {
        // Serialised (and validated) before a connection is taken.
        std::string head = serialize_head(request, route->url, pool->endpoint);
        for (int attempt = 0; !started; ++attempt) {
            const bool retry = attempt > 0;
            if (prepare_attempt(exchange, settings, retry)) {
                Lease lease = co_await acquire(pool, settings, retry);
                exchange.lease = std::move(lease);
            }
            if (!exchange.lease.connected()) {
                std::unique_ptr<Connection> connection = co_await connect(pool->endpoint, settings);
                ++pool->counters->opened;
                exchange.lease.attach(std::move(connection));
            }
            ResponseParser& parser = start_parser(exchange, request, settings);
            if (head.empty()) head = serialize_head(request, route->url, pool->endpoint);
            const std::array<asio::const_buffer, 2> message{asio::buffer(head), asio::buffer(request.body)};
            Connection& connection = exchange.lease.connection();
            boost::system::error_code ec;
            const char* phase = "write";
            connection.tcp().expires_after(settings.write_timeout);
            if (connection.tls) {
                const std::size_t written = co_await asio::async_write(*connection.tls, message,
                                                                       asio::redirect_error(asio::use_awaitable, ec));
                (void)written;
            } else {
                const std::size_t written = co_await asio::async_write(*connection.plain, message,
                                                                       asio::redirect_error(asio::use_awaitable, ec));
                (void)written;
            }
            if (!ec) {
                // Not needed while the response is awaited (a stale-connection retry serialises it again).
                std::string().swap(head);
                phase = "first_byte";
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
            }
            if (!ec) {
                head_received(exchange);
                started = true;
            } else {
                asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
                attempt_failed(exchange, settings, ec, phase, retry, is_cancelled(state));
            }
        }
    } catch (const boost::system::system_error& error) {
        // Raised by the coroutine machinery when cancellation was requested between operations.
        if (error.code() != asio::error::operation_aborted) throw;
    }
    if (!started) {
        exchange.lease.discard();
        throw_failure(Failure{asio::error::operation_aborted, "connect", {}, false}, exchange.authority(), true);
    }
    if constexpr (Whole) {
        Response response;
        {
            SinkScope scope(*exchange.parser, response.body, true);
            const boost::system::error_code ec = exchange.parse_buffered();
            if (ec || !exchange.done) co_await read_body(exchange, true);
        }
        response.status = exchange.parser->status;
        response.headers = std::move(exchange.parser->headers);
        co_return response;
    } else {
        co_return std::unique_ptr<ResponseStream>(std::move(owner));
    }
}

asio::awaitable<std::unique_ptr<ResponseStream>> Client::open(const Request& request,
                                                          const ResolvedSettings::Http& settings) {
    return exchange<false>(request, settings);
}

asio::awaitable<Response> Client::send(const Request& request, const ResolvedSettings::Http& settings) {
    return exchange<true>(request, settings);
}

}  // namespace alloy::http
