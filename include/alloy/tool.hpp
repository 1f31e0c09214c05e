// Tools: C++ functions the model may call, guarded by `require` / `ensure` contracts.
//
//   struct AddArgs { int a; int b; };
//   BOOST_DESCRIBE_STRUCT(AddArgs, (), (a, b))
//   const auto add = alloy::tool("add", "Add two integers", [](AddArgs x) { return x.a + x.b; })
//                        .require([](const AddArgs& x) { return x.b >= 0; }, "b must be non-negative")
//                        .ensure([](int r) { return r < 1'000'000; }, "result out of range");
//
// The parameter schema comes from the argument struct (std::optional members are optional, every other
// member is required). Bodies may be plain functions or return `asio::awaitable<R>`. Results are sent
// to the model as JSON text (a std::string result verbatim).
#pragma once

#include <alloy/errors.hpp>
#include <alloy/idempotency.hpp>
#include <alloy/json.hpp>
#include <alloy/schema.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace alloy {

namespace detail {

/// Type-erased tool behaviour. Implemented by TypedTool; used by the engine through Tool.
class ToolImpl {
public:
    std::string name;
    std::string description;
    /// JSON Schema of the arguments; shared with every request that declares the tool.
    std::shared_ptr<const boost::json::object> parameters;
    bool blocking = false;                ///< run on the runtime's thread pool, not the io_context
    std::chrono::milliseconds timeout{0}; ///< 0 = none
    IdempotencyScope idempotency_scope = IdempotencyScope::run;

    virtual ~ToolImpl() = default;
    /// The call's natural key, when the tool declared one (see TypedTool::idempotency_key).
    virtual std::optional<std::string> idempotency_key(const boost::json::value& args) const = 0;
    /// True when the body is a plain function (call_sync), false when it returns an awaitable (call_async).
    virtual bool is_sync() const noexcept = 0;
    /// Parses `args`, checks `require`, runs the body, checks `ensure`, serialises the result.
    /// Throws ConversionError for bad arguments, ToolError for contract failures, or what the body throws.
    virtual std::string call_sync(const boost::json::value& args) const = 0;
    virtual boost::asio::awaitable<std::string> call_async(boost::json::value args) const = 0;
};

template <class T>
struct is_awaitable : std::false_type {
    using value_type = T;
};
template <class T, class E>
struct is_awaitable<boost::asio::awaitable<T, E>> : std::true_type {
    using value_type = T;
};

/// Argument type of a tool body: the single parameter (decayed), or `void` for zero-argument bodies.
template <class F>
struct tool_signature : tool_signature<decltype(&F::operator())> {};
template <class C, class R, class A>
struct tool_signature<R (C::*)(A) const> { using args = std::decay_t<A>; using result = R; };
template <class C, class R, class A>
struct tool_signature<R (C::*)(A)> { using args = std::decay_t<A>; using result = R; };
template <class C, class R>
struct tool_signature<R (C::*)() const> { using args = void; using result = R; };
template <class C, class R>
struct tool_signature<R (C::*)()> { using args = void; using result = R; };
template <class R, class A>
struct tool_signature<R (*)(A)> { using args = std::decay_t<A>; using result = R; };
template <class R>
struct tool_signature<R (*)()> { using args = void; using result = R; };

/// Serialises a tool result for the model: strings verbatim, void as "null", everything else as JSON.
template <class R>
std::string tool_result_text(const R& r) {
    if constexpr (std::is_convertible_v<const R&, std::string_view>) {
        return std::string(std::string_view(r));
    } else {
        return boost::json::serialize(to_json(r));
    }
}

[[noreturn]] void throw_contract_failure(const std::string& tool, const std::string& kind, const std::string& message);
[[noreturn]] void throw_contract_exception(const std::string& tool, const std::string& kind, const std::string& message,
                                           std::exception_ptr error);

}  // namespace detail

/// A tool, type-erased: what commands hold in their `tools` list. Cheap to copy (shared, immutable).
class Tool {
public:
    explicit Tool(std::shared_ptr<const detail::ToolImpl> impl) : impl_(std::move(impl)) {}

    const std::string& name() const noexcept { return impl_->name; }
    const std::string& description() const noexcept { return impl_->description; }
    /// JSON Schema of the arguments (non-strict: optional members are not required).
    const boost::json::object& parameters() const noexcept { return *impl_->parameters; }
    bool blocking() const noexcept { return impl_->blocking; }
    std::chrono::milliseconds timeout() const noexcept { return impl_->timeout; }
    const detail::ToolImpl& impl() const noexcept { return *impl_; }

private:
    std::shared_ptr<const detail::ToolImpl> impl_;
};

/// A tool with its argument and result types known. Built by alloy::tool(); converts to Tool.
/// Builder methods return a new TypedTool and leave the original unchanged.
template <class Args, class Result, class Fn>
class TypedTool {
    static constexpr bool is_async = detail::is_awaitable<Result>::value;
    using value_type = typename detail::is_awaitable<Result>::value_type;
    static constexpr bool no_args = std::is_void_v<Args>;
    using ArgsRef = std::conditional_t<no_args, int, Args>;  // placeholder type for the zero-argument form
    using Require = std::conditional_t<no_args, std::function<bool()>, std::function<bool(const ArgsRef&)>>;
    using Ensure = std::conditional_t<std::is_void_v<value_type>, std::function<bool()>,
                                      std::function<bool(const std::conditional_t<std::is_void_v<value_type>, int, value_type>&)>>;

    struct Impl final : detail::ToolImpl {
        Fn fn;
        std::vector<std::pair<Require, std::string>> requires_;
        std::vector<std::pair<Ensure, std::string>> ensures_;
        std::function<std::string(const ArgsRef&)> key_;

        explicit Impl(Fn f) : fn(std::move(f)) {}

        std::optional<std::string> idempotency_key(const boost::json::value& args) const override {
            if (!key_) return std::nullopt;
            return key_(parse(args));
        }

        bool is_sync() const noexcept override { return !is_async; }

        ArgsRef parse(const boost::json::value& args) const {
            if constexpr (no_args) {
                (void)args;
                return 0;
            } else {
                return from_json<Args>(args);
            }
        }

        void check_requires(const ArgsRef& a) const {
            for (const auto& [pred, message] : requires_) {
                bool ok = false;
                try {
                    if constexpr (no_args) ok = pred();
                    else ok = pred(a);
                } catch (...) {
                    detail::throw_contract_exception(name, "require", message, std::current_exception());
                }
                if (!ok) detail::throw_contract_failure(name, "require", message);
            }
        }

        template <class V>
        void check_ensures(const V& v) const {
            for (const auto& [pred, message] : ensures_) {
                bool ok = false;
                try {
                    if constexpr (std::is_void_v<value_type>) ok = pred();
                    else ok = pred(v);
                } catch (...) {
                    detail::throw_contract_exception(name, "ensure", message, std::current_exception());
                }
                if (!ok) detail::throw_contract_failure(name, "ensure", message);
            }
        }

        /// Runs a sync body with contracts and returns the typed result (used by direct C++ calls too).
        value_type run_sync(const ArgsRef& a) const requires(!is_async) {
            check_requires(a);
            if constexpr (std::is_void_v<value_type>) {
                if constexpr (no_args) fn();
                else fn(a);
                check_ensures(0);
            } else {
                value_type r = [&] {
                    if constexpr (no_args) return fn();
                    else return fn(a);
                }();
                check_ensures(r);
                return r;
            }
        }

        std::string call_sync(const boost::json::value& args) const override {
            if constexpr (is_async) {
                throw ToolError(name, "tool '" + name + "' is asynchronous");
            } else {
                ArgsRef a = parse(args);
                if constexpr (std::is_void_v<value_type>) {
                    run_sync(a);
                    return "null";
                } else {
                    return detail::tool_result_text(run_sync(a));
                }
            }
        }

        /// Runs an awaitable body with contracts. `self` keeps the tool alive across suspensions.
        static boost::asio::awaitable<value_type> run_async(std::shared_ptr<const Impl> self, ArgsRef a) {
            self->check_requires(a);
            if constexpr (std::is_void_v<value_type>) {
                if constexpr (no_args) co_await self->fn();
                else co_await self->fn(a);
                self->check_ensures(0);
            } else {
                value_type r = co_await call_body(*self, a);
                self->check_ensures(r);
                co_return r;
            }
        }

        static Result call_body(const Impl& self, const ArgsRef& a) {
            if constexpr (no_args) return self.fn();
            else return self.fn(a);
        }

        boost::asio::awaitable<std::string> call_async(boost::json::value args) const override {
            if constexpr (!is_async) {
                co_return call_sync(args);
            } else {
                ArgsRef a = parse(args);
                auto self = std::static_pointer_cast<const Impl>(self_.lock());
                if constexpr (std::is_void_v<value_type>) {
                    co_await run_async(self, std::move(a));
                    co_return std::string("null");
                } else {
                    value_type r = co_await run_async(self, std::move(a));
                    co_return detail::tool_result_text(r);
                }
            }
        }

        std::weak_ptr<const Impl> self_;
    };

    std::shared_ptr<Impl> impl_;

    TypedTool copy() const {
        TypedTool t;
        t.impl_ = std::make_shared<Impl>(*impl_);
        t.impl_->self_ = t.impl_;
        return t;
    }
    TypedTool() = default;

public:
    TypedTool(std::string name, std::string description, Fn fn) : impl_(std::make_shared<Impl>(std::move(fn))) {
        impl_->self_ = impl_;
        impl_->name = std::move(name);
        impl_->description = std::move(description);
        if constexpr (no_args) {
            impl_->parameters = std::make_shared<const boost::json::object>(
                boost::json::object{{"type", "object"}, {"properties", boost::json::object{}}});
        } else {
            impl_->parameters =
                std::make_shared<const boost::json::object>(schema_of<Args>(SchemaMode::tool_parameters));
        }
    }

    /// Adds a precondition, checked on the parsed arguments before the body runs. A false or throwing
    /// predicate fails the call with ToolError(`message`).
    template <class P>
    TypedTool require(P predicate, std::string message) const {
        TypedTool t = copy();
        t.impl_->requires_.emplace_back(Require(std::move(predicate)), std::move(message));
        return t;
    }

    /// Adds a postcondition, checked on the body's result. A false or throwing predicate fails the call.
    template <class P>
    TypedTool ensure(P predicate, std::string message) const {
        TypedTool t = copy();
        t.impl_->ensures_.emplace_back(Ensure(std::move(predicate)), std::move(message));
        return t;
    }

    /// Marks a sync body as blocking: it runs on the runtime's thread pool instead of the io_context.
    TypedTool blocking(bool value = true) const {
        static_assert(!is_async, "only synchronous tool bodies can be marked blocking");
        TypedTool t = copy();
        t.impl_->blocking = value;
        return t;
    }

    /// Bounds each call of this tool; a call that takes longer fails with a timeout message.
    TypedTool timeout(std::chrono::milliseconds limit) const {
        TypedTool t = copy();
        t.impl_->timeout = limit;
        return t;
    }

    /// Declares the tool idempotent with a natural key computed from its arguments: within `scope`, a
    /// call whose key already completed returns the recorded result instead of running the body, and
    /// concurrent calls with one key run it once. Only successful results are recorded.
    template <class K>
    TypedTool idempotency_key(K key_of, IdempotencyScope scope = IdempotencyScope::run) const {
        TypedTool t = copy();
        if constexpr (no_args) t.impl_->key_ = [key_of = std::move(key_of)](const ArgsRef&) { return std::string(key_of()); };
        else t.impl_->key_ = [key_of = std::move(key_of)](const ArgsRef& a) { return std::string(key_of(a)); };
        t.impl_->idempotency_scope = scope;
        return t;
    }

    const std::string& name() const noexcept { return impl_->name; }

    /// Type-erased form for a command's `tools` list.
    operator Tool() const { return Tool(impl_); }  // NOLINT(google-explicit-constructor): builder ergonomics

    /// Direct C++ call of a synchronous tool: contracts are enforced and throw ToolError.
    template <class... A>
        requires(!is_async && sizeof...(A) == (no_args ? 0 : 1))
    value_type operator()(A&&... a) const {
        if constexpr (no_args) return impl_->run_sync(0);
        else return impl_->run_sync(Args(std::forward<A>(a)...));
    }

    /// Direct C++ call of an asynchronous tool: contracts are enforced and throw ToolError.
    template <class... A>
        requires(is_async && sizeof...(A) == (no_args ? 0 : 1))
    boost::asio::awaitable<value_type> operator()(A&&... a) const {
        if constexpr (no_args) return Impl::run_async(impl_, 0);
        else return Impl::run_async(impl_, Args(std::forward<A>(a)...));
    }
};

/// Declares a tool from a callable taking one described argument struct (or nothing). The body may
/// return a value, void, or `asio::awaitable<R>`.
template <class Fn>
auto tool(std::string name, std::string description, Fn fn) {
    using sig = detail::tool_signature<Fn>;
    return TypedTool<typename sig::args, typename sig::result, Fn>(std::move(name), std::move(description),
                                                                   std::move(fn));
}

}  // namespace alloy
