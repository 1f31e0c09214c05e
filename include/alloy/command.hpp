// Commands: a prompt builder plus an output type, called like an async function.
//
//   const auto extract = alloy::command<Invoice>("extract_invoice",
//       [](std::string_view text) { return "Extract the invoice from: " + std::string(text); },
//       {.tools = {add}, .system = "You are precise."});
//   Invoice inv = co_await extract(body);
//
// Output modes: `command<std::string>` (the default) is raw text — no schema is sent and an empty answer
// is a CommandError; `command<void>` is a side-effect command (the model is called, nothing returned);
// any other T is a strict typed result parsed from schema-constrained JSON.
#pragma once

#include <alloy/config.hpp>
#include <alloy/errors.hpp>
#include <alloy/provider.hpp>
#include <alloy/runtime.hpp>
#include <alloy/schema.hpp>
#include <alloy/stream.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace alloy {

/// What a finished command run produced besides its value.
struct RunInfo {
    std::string text;          ///< the final answer text (raw JSON for typed commands)
    Usage usage;               ///< tokens summed over every request of the run (all attempts)
    int attempts = 0;          ///< attempts of the whole command (1 = no retry)
    int tool_turns = 0;        ///< tool turns of the successful attempt
    int requests = 0;          ///< provider requests made, all attempts included
    std::string run_id;        ///< id carried by every event of this run
    std::chrono::nanoseconds duration{0};
};

/// A command result with its run details (see Command::detailed).
template <class T>
struct Detailed {
    T value;
    RunInfo info;
};
template <>
struct Detailed<void> {
    RunInfo info;
};

namespace detail {

enum class OutputMode { text, none, typed };

/// Everything about a command that does not change between calls.
struct CommandDef {
    std::string name;
    Settings options;  ///< the command layer of settings
    OutputMode mode = OutputMode::text;
    std::shared_ptr<const OutputSpec> output;  ///< typed commands only
};

/// Runs one command call to completion in `runtime` (nullptr: the global runtime): retries, timeouts,
/// tool loop, finalize. In typed mode `accept` parses the final text and throws CommandError
/// (output_parse) when it does not fit; a parse failure counts as a failed attempt.
/// `call` holds the per-call overrides (null: none); it is shared, not copied, by every call of a handle.
boost::asio::awaitable<RunInfo> run_command(std::shared_ptr<const CommandDef> def, std::string prompt,
                                            std::shared_ptr<const Settings> call, Runtime* runtime,
                                            std::function<void(std::string_view)> accept);

/// Starts a streamed run (text mode only; typed commands throw ConfigurationError).
TextStream stream_command(std::shared_ptr<const CommandDef> def, std::string prompt,
                          std::shared_ptr<const Settings> call, Runtime* runtime);

template <class T>
constexpr OutputMode output_mode() {
    if constexpr (std::is_void_v<T>) return OutputMode::none;
    else if constexpr (std::is_same_v<T, std::string>) return OutputMode::text;
    else return OutputMode::typed;
}

}  // namespace detail

/// A callable command. Cheap to copy; immutable (with() and in() return new handles).
template <class T, class Builder>
class Command {
public:
    Command(std::shared_ptr<const detail::CommandDef> def, std::shared_ptr<const Builder> builder)
        : def_(std::move(def)), builder_(std::move(builder)) {}

    /// Builds the prompt from `args` (immediately, so arguments may be temporaries) and returns the
    /// awaitable run. Throws ConfigurationError, CommandError or ToolLoopLimitExceeded. Honours Asio
    /// per-operation cancellation: `co_await (cmd(x) || timer.async_wait(...))` stops the provider
    /// call and the running tools.
    template <class... A>
    boost::asio::awaitable<T> operator()(A&&... args) const {
        return run(def_, std::string(std::invoke(*builder_, std::forward<A>(args)...)), call_, runtime_);
    }

    /// Like operator(), but also returns the run details (usage, attempts, turns, timings).
    template <class... A>
    boost::asio::awaitable<Detailed<T>> detailed(A&&... args) const {
        return run_detailed(def_, std::string(std::invoke(*builder_, std::forward<A>(args)...)), call_, runtime_);
    }

    /// Blocking form for plain code: runs on the runtime's background thread and waits.
    template <class... A>
    T sync(A&&... args) const {
        Runtime& rt = runtime_ ? *runtime_ : Runtime::global();
        return rt.block_on((*this)(std::forward<A>(args)...));
    }

    /// Streams the answer as text chunks. Only for raw-text commands: a typed or void command throws
    /// ConfigurationError.
    template <class... A>
    TextStream stream(A&&... args) const {
        return detail::stream_command(def_, std::string(std::invoke(*builder_, std::forward<A>(args)...)), call_,
                                      runtime_);
    }

    /// A handle with per-call overrides laid over this one's (highest precedence).
    Command with(const Settings& overrides) const {
        Command c = *this;
        c.call_ = std::make_shared<const Settings>(merge(call_ ? *call_ : Settings{}, overrides));
        return c;
    }

    /// A handle that runs in `runtime` instead of the global one. The runtime must outlive the calls.
    Command in(Runtime& runtime) const {
        Command c = *this;
        c.runtime_ = &runtime;
        return c;
    }

    const std::string& name() const noexcept { return def_->name; }
    /// The output spec sent to the provider; null for text and void commands.
    const OutputSpec* output_spec() const noexcept { return def_->output.get(); }

private:
    static boost::asio::awaitable<T> run(std::shared_ptr<const detail::CommandDef> def, std::string prompt,
                                         std::shared_ptr<const Settings> call, Runtime* runtime) {
        Detailed<T> d = co_await run_detailed(std::move(def), std::move(prompt), std::move(call), runtime);
        if constexpr (!std::is_void_v<T>) co_return std::move(d.value);
    }

    static boost::asio::awaitable<Detailed<T>> run_detailed(std::shared_ptr<const detail::CommandDef> def,
                                                            std::string prompt, std::shared_ptr<const Settings> call,
                                                            Runtime* runtime) {
        if constexpr (std::is_void_v<T>) {
            RunInfo info = co_await detail::run_command(def, std::move(prompt), std::move(call), runtime, {});
            co_return Detailed<void>{std::move(info)};
        } else if constexpr (detail::output_mode<T>() == detail::OutputMode::text) {
            RunInfo info = co_await detail::run_command(def, std::move(prompt), std::move(call), runtime, {});
            std::string text = info.text;
            co_return Detailed<T>{std::move(text), std::move(info)};
        } else {
            std::optional<T> value;
            const OutputSpec* spec = def->output.get();
            std::function<void(std::string_view)> accept = [&value, spec](std::string_view text) {
                value.emplace(parse_output<T>(text, *spec));
            };
            RunInfo info = co_await detail::run_command(def, std::move(prompt), std::move(call), runtime,
                                                        std::move(accept));
            co_return Detailed<T>{std::move(*value), std::move(info)};
        }
    }

    std::shared_ptr<const detail::CommandDef> def_;
    std::shared_ptr<const Builder> builder_;
    std::shared_ptr<const Settings> call_;  ///< per-call overrides laid by with(); null when none
    Runtime* runtime_ = nullptr;
};

/// Declares a command. `T` is the output type (default std::string: raw text; void: side effect);
/// `builder` turns the call's arguments into the prompt text; `options` is the command's settings
/// layer (tools, system, model, retries, ...). Throws ConfigurationError when T cannot be a strict
/// output (e.g. it contains an open map).
template <class T = std::string, class Builder>
Command<T, Builder> command(std::string name, Builder builder, Settings options = {}) {
    auto def = std::make_shared<detail::CommandDef>();
    def->name = std::move(name);
    def->options = std::move(options);
    def->mode = detail::output_mode<T>();
    if constexpr (detail::output_mode<T>() == detail::OutputMode::typed) {
        OutputSpec spec = alloy::output_spec<T>();
        spec.schema_json = detail::serialize_schema(spec.schema);
        def->output = std::make_shared<const OutputSpec>(std::move(spec));
    }
    return Command<T, Builder>(std::move(def), std::make_shared<const Builder>(std::move(builder)));
}

}  // namespace alloy
