// One command run: settings, retries with backoff, per-attempt timeout and overall deadline, the tool
// loop and the finalize follow-up. The decisions live in tool_loop.cpp and retry_policy.cpp; this file is
// the I/O shell around them.
#include "engine/engine.hpp"

#include "core/environment.hpp"
#include "core/runtime_impl.hpp"
#include "engine/retry_policy.hpp"
#include "engine/run_trace.hpp"
#include "engine/timeout.hpp"
#include "engine/tool_loop.hpp"
#include "engine/tool_runner.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/core/demangle.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <memory>
#include <random>
#include <typeinfo>

namespace asio = boost::asio;

namespace alloy::detail {

ResolvedSettings resolve_call(const CommandDef& def, const Settings& call, Runtime& runtime) {
    Settings layered = environment_settings();
    layered = merge(std::move(layered), configured());
    layered = merge(std::move(layered), runtime.defaults());
    layered = merge(std::move(layered), def.options);
    layered = merge(std::move(layered), call);
    return resolve(layered);
}

namespace {

CallSettings resolve_fresh(const CommandDef& def, const Settings& call, Runtime& runtime) {
    auto settings = std::make_shared<ResolvedSettings>(resolve_call(def, call, runtime));
    auto tools = std::make_shared<const std::vector<Tool>>(settings->tools);
    return CallSettings{std::move(settings), std::move(tools)};
}

bool same_command(const std::weak_ptr<const CommandDef>& known, const std::shared_ptr<const CommandDef>& def) {
    return !known.owner_before(def) && !def.owner_before(known);
}

}  // namespace

CallSettings resolve_call_shared(const std::shared_ptr<const CommandDef>& def, const Settings& call,
                                 Runtime& runtime) {
    if (!is_unset(call)) return resolve_fresh(*def, call, runtime);
    auto& impl = runtime.impl();
    // Read before the layers: a change racing with this resolution leaves the entry already stale.
    const std::uint64_t generation = settings_generation();
    {
        std::lock_guard lock(impl.resolutions_mutex);
        auto it = impl.resolutions.find(def.get());
        if (it != impl.resolutions.end() && it->second.generation == generation && same_command(it->second.def, def))
            return CallSettings{it->second.settings, it->second.tools};
    }
    CallSettings fresh = resolve_fresh(*def, call, runtime);  // throws ConfigurationError: nothing cached
    std::lock_guard lock(impl.resolutions_mutex);
    if (impl.resolutions.size() >= 2 * impl.resolutions_live + 64) {
        // Commands come and go (per-request `ask`, handles made with with()): forget the dead ones.
        std::erase_if(impl.resolutions, [](const auto& entry) { return entry.second.def.expired(); });
        impl.resolutions_live = impl.resolutions.size();
    }
    auto& entry = impl.resolutions[def.get()];
    entry = detail::CachedResolution{def, generation, fresh.settings, fresh.tools};
    return fresh;
}

std::string render_prompt(std::string prompt, const ResolvedSettings& settings) {
    if (settings.context) {
        prompt += "\n\nContext:\n";
        prompt += boost::json::serialize(*settings.context);
    }
    return prompt;
}

std::vector<ToolSpec> tool_specs(const std::vector<Tool>& tools) {
    std::vector<ToolSpec> specs;
    specs.reserve(tools.size());
    for (const auto& t : tools) specs.push_back(ToolSpec{t.name(), t.description(), t.impl().parameters});
    return specs;
}

ModelRequest build_request(const ResolvedSettings& settings, const CommandDef& def,
                           const std::vector<Message>& transcript, ToolChoice choice) {
    ModelRequest req;
    req.model = settings.model;
    req.system = settings.system;
    req.messages = transcript;
    req.tools = tool_specs(settings.tools);
    req.tool_choice = choice;
    req.output = def.output;
    req.temperature = settings.temperature;
    req.max_tokens = settings.max_tokens;
    req.extra = settings.extra;
    return req;
}

std::string new_run_id() { return new_span_id(); }

bool should_retry(const ResolvedSettings& settings, std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const ConfigurationError&) {
        return false;
    } catch (const std::exception& e) {
        if (!retry::default_command_retry(e)) return false;
        return settings.retry_on ? settings.retry_on(e) : true;
    } catch (...) {
        return !settings.retry_on;
    }
}

namespace {

struct Attempt {
    std::string text;
    int tool_turns = 0;
};

/// Everything one call needs, kept alive by the run coroutine's frame.
struct Run {
    std::shared_ptr<const CommandDef> def;
    std::shared_ptr<const ResolvedSettings> resolved;
    std::shared_ptr<const std::vector<Tool>> tools;
    std::shared_ptr<Provider> provider;
    Runtime* runtime = nullptr;
    std::string prompt;
    std::function<void(std::string_view)> accept;
    RunInfo info;
    RunTrace trace;
    std::string attempt_span;  ///< span of the attempt in progress

    const ResolvedSettings& settings() const noexcept { return *resolved; }
};

/// Sends one request, reporting it as a span under the current attempt.
asio::awaitable<ModelReply> send_request(Run& run, ModelRequest& request, int tool_turn) {
    ++run.info.requests;
    const bool observed = run.trace.on();
    const std::string span = observed || run.settings().propagate_traceparent ? new_span_id() : std::string();
    if (run.settings().propagate_traceparent)
        request.headers.emplace_back("traceparent", "00-" + run.trace.trace_id + "-" + span + "-01");
    if (!observed) co_return co_await run.provider->complete(request);

    request.on_retry = [&run, span](int retry, std::chrono::milliseconds delay, const Diagnostics& why) {
        Event e = run.trace.make(EventType::retry_scheduled, span, run.attempt_span);
        e.attempt = run.info.attempts;
        e.retry_level = "request";
        e.delay = delay;
        e.http_status = why.http_status;
        e.reason = why.message.empty() ? "retry " + std::to_string(retry) : why.message;
        run.trace.emit(e);
    };
    Event start = run.trace.make(EventType::request_start, span, run.attempt_span);
    start.attempt = run.info.attempts;
    start.tool_turn = tool_turn;
    if (run.trace.content && !request.messages.empty()) start.content = request.messages.back().text;
    run.trace.emit(start);
    const auto started = std::chrono::steady_clock::now();
    std::exception_ptr failure;
    try {
        ModelReply reply = co_await run.provider->complete(request);
        Event end = run.trace.make(EventType::request_end, span, run.attempt_span);
        end.attempt = run.info.attempts;
        end.tool_turn = tool_turn;
        end.outcome = "ok";
        end.duration = since(started);
        end.http_status = reply.http_status;
        end.request_id = reply.request_id;
        end.bytes_sent = reply.bytes_sent;
        end.bytes_received = reply.bytes_received;
        end.usage = reply.usage;
        end.finish_reason = std::string(to_string(reply.finish));
        if (run.trace.content) end.content = reply.text;
        run.trace.emit(end);
        co_return reply;
    } catch (...) {
        failure = std::current_exception();
    }
    Event end = run.trace.make(EventType::request_end, span, run.attempt_span);
    end.attempt = run.info.attempts;
    end.tool_turn = tool_turn;
    end.duration = since(started);
    RunTrace::describe_failure(end, failure, co_await cancelled_by_caller());
    run.trace.emit(end);
    std::rethrow_exception(failure);
}

/// One attempt: the tool loop until the model answers, then (typed mode) the parse.
asio::awaitable<Attempt> run_attempt(Run& run) {
    // One request object for the whole attempt: its messages are the transcript, so a tool turn appends
    // to it instead of copying the transcript, tool specs and output schema into a new request.
    ModelRequest request = build_request(run.settings(), *run.def, {}, ToolChoice::automatic);
    std::vector<Message>& transcript = request.messages;
    transcript.push_back(Message{Message::Role::user, run.prompt, {}, {}});
    LoopState state;
    const LoopRules rules{run.settings().max_tool_turns, run.settings().auto_finalize_missing_output, run.def->mode,
                          run.def->output.get()};
    for (;;) {
        request.tool_choice = state.finalizing ? ToolChoice::none : ToolChoice::automatic;
        request.headers.clear();
        request.on_retry = nullptr;
        ModelReply reply = co_await send_request(run, request, state.tool_turns);
        run.info.usage += reply.usage;
        const Step step = decide_step(reply, state, rules);
        if (step == Step::finish) {
            if (run.accept) run.accept(reply.text);
            co_return Attempt{std::move(reply.text), state.tool_turns};
        }
        if (step == Step::finalize) {
            if (run.trace.on()) {
                Event e = run.trace.make(EventType::finalize, run.attempt_span, run.trace.command_span);
                e.attempt = run.info.attempts;
                e.reason = snippet(reply.text);
                run.trace.emit(e);
            }
            transcript.push_back(Message{Message::Role::assistant, std::move(reply.text), {}, {}});
            transcript.push_back(Message{Message::Role::user, finalize_prompt(), {}, {}});
            continue;
        }
        const ToolTrace tool_trace{&run.trace, run.attempt_span, run.info.attempts};
        ToolContext context{run.runtime->blocking_executor(), run.runtime, run.info.run_id,
                            run.trace.on() ? &tool_trace : nullptr};
        std::vector<ToolResult> results =
            co_await run_tool_calls(reply.tool_calls, run.tools, run.settings().parallel_tools_max, std::move(context));
        transcript.push_back(Message{Message::Role::assistant, std::move(reply.text), std::move(reply.tool_calls), {}});
        transcript.push_back(Message{Message::Role::tool, {}, {}, std::move(results)});
    }
}

asio::awaitable<Attempt> run_bounded_attempt(Run& run) {
    if (run.settings().timeout.count() <= 0) co_return co_await run_attempt(run);
    co_return co_await with_timeout(run_attempt(run), run.settings().timeout, "command '" + run.def->name + "' attempt",
                                    "attempt");
}

/// Attempts with backoff until success, a non-retryable failure or the last attempt.
asio::awaitable<void> run_attempts(Run& run) {
    // Seeded only when a retry needs a jittered delay: seeding costs more than a whole successful run's
    // bookkeeping, and the engine's state would sit in every in-flight command's frame.
    std::unique_ptr<std::mt19937_64> rng;
    for (int attempt = 1;; ++attempt) {
        run.info.attempts = attempt;
        const bool observed = run.trace.on();
        run.attempt_span = observed ? new_span_id() : std::string();
        const auto started = std::chrono::steady_clock::now();
        if (observed) {
            Event e = run.trace.make(EventType::attempt_start, run.attempt_span, run.trace.command_span);
            e.attempt = attempt;
            run.trace.emit(e);
        }
        std::exception_ptr failure;
        try {
            Attempt result = co_await run_bounded_attempt(run);
            run.info.text = std::move(result.text);
            run.info.tool_turns = result.tool_turns;
            if (observed) {
                Event e = run.trace.make(EventType::attempt_end, run.attempt_span, run.trace.command_span);
                e.attempt = attempt;
                e.outcome = "ok";
                e.duration = since(started);
                e.tool_turn = result.tool_turns;
                run.trace.emit(e);
            }
            co_return;
        } catch (...) {
            failure = std::current_exception();
        }
        const bool cancelled = co_await cancelled_by_caller();
        if (observed) {
            Event e = run.trace.make(EventType::attempt_end, run.attempt_span, run.trace.command_span);
            e.attempt = attempt;
            e.duration = since(started);
            RunTrace::describe_failure(e, failure, cancelled);
            run.trace.emit(e);
        }
        if (cancelled) std::rethrow_exception(failure);
        if (attempt >= run.settings().retry || !should_retry(run.settings(), failure)) {
            try {
                std::rethrow_exception(failure);
            } catch (CommandError& e) {
                e.record_attempts(attempt);
                throw;
            } catch (const ConfigurationError&) {
                throw;
            } catch (const std::exception& e) {
                throw CommandError(ErrorKind::other,
                                   "command '" + run.def->name + "' failed after " + std::to_string(attempt) +
                                       (attempt == 1 ? " attempt: " : " attempts: ") +
                                       boost::core::demangle(typeid(e).name()) + ": " + e.what(),
                                   {}, failure, attempt);
            }
        }
        std::optional<std::chrono::milliseconds> retry_after;
        try {
            std::rethrow_exception(failure);
        } catch (const CommandError& e) {
            retry_after = e.diagnostics().retry_after;
        } catch (...) {
        }
        if (!rng) rng = std::make_unique<std::mt19937_64>(std::random_device{}());
        const auto delay = retry::backoff_delay(attempt - 1, run.settings().backoff_initial, run.settings().backoff_max,
                                                retry_after, run.settings().retry_after_max, *rng);
        if (run.trace.on()) {
            Event e = run.trace.make(EventType::retry_scheduled, run.attempt_span, run.trace.command_span);
            e.attempt = attempt;
            e.retry_level = "command";
            e.delay = delay;
            RunTrace::describe_failure(e, failure, false);
            e.reason = e.error_message;
            e.outcome.clear();
            run.trace.emit(e);
        }
        if (delay.count() > 0) {
            asio::steady_timer timer(co_await asio::this_coro::executor, delay);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }
}

}  // namespace

asio::awaitable<RunInfo> run_command(std::shared_ptr<const CommandDef> def, std::string prompt, Settings call,
                                     Runtime* runtime, std::function<void(std::string_view)> accept) {
    const auto started = std::chrono::steady_clock::now();
    Run run;
    run.runtime = runtime ? runtime : &Runtime::global();
    CallSettings resolved = resolve_call_shared(def, call, *run.runtime);
    run.resolved = std::move(resolved.settings);
    run.tools = std::move(resolved.tools);
    run.def = std::move(def);
    run.prompt = render_prompt(std::move(prompt), run.settings());
    run.provider = run.runtime->provider_for(run.settings());
    run.accept = std::move(accept);
    run.info.run_id = new_run_id();
    run.trace = RunTrace{run.runtime,       run.info.run_id,     {},
                         {},                run.def->name,       run.settings().model,
                         std::string(run.provider->name()),      run.runtime->captures_content()};
    const bool observed = run.trace.on();
    // Trace ids are drawn only when something reads them: observers or a traceparent header.
    if (observed || run.settings().propagate_traceparent) {
        run.trace.trace_id = new_trace_id();
        run.trace.command_span = new_span_id();
    }

    if (observed) {
        Event e = run.trace.make(EventType::command_start, run.trace.command_span, {});
        if (run.trace.content) e.content = run.prompt;
        run.trace.emit(e);
    }
    std::exception_ptr failure;
    try {
        if (run.settings().deadline.count() > 0)
            co_await with_timeout(run_attempts(run), run.settings().deadline, "command '" + run.def->name + "'",
                                  "deadline");
        else
            co_await run_attempts(run);
    } catch (...) {
        failure = std::current_exception();
    }
    run.info.duration = std::chrono::steady_clock::now() - started;
    run.runtime->record_usage(run.info.usage);
    if (observed) {
        Event e = run.trace.make(EventType::command_end, run.trace.command_span, {});
        e.attempt = run.info.attempts;
        e.duration = run.info.duration;
        e.usage = run.info.usage;
        e.tool_turn = run.info.tool_turns;
        if (failure) {
            RunTrace::describe_failure(e, failure, co_await cancelled_by_caller());
        } else {
            e.outcome = "ok";
            if (run.trace.content) e.content = run.info.text;
        }
        run.trace.emit(e);
    }
    if (failure) std::rethrow_exception(failure);
    co_return std::move(run.info);
}

}  // namespace alloy::detail
