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

// Event reporting lives in plain functions: an Event (~700 bytes) declared in a coroutine would sit in
// its frame for the whole call, in every in-flight command, even when nothing observes.

void emit_request_start(const Run& run, const ModelRequest& request, const std::string& span, int tool_turn) {
    Event start = run.trace.make(EventType::request_start, span, run.attempt_span);
    start.attempt = run.info.attempts;
    start.tool_turn = tool_turn;
    if (run.trace.content && !request.messages.empty()) start.content = request.messages.back().text;
    run.trace.emit(start);
}

void emit_request_ok(const Run& run, const ModelReply& reply, const std::string& span, int tool_turn,
                     std::chrono::steady_clock::time_point started) {
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
}

void emit_request_failed(const Run& run, const std::string& span, int tool_turn,
                         std::chrono::steady_clock::time_point started, std::exception_ptr failure, bool cancelled) {
    Event end = run.trace.make(EventType::request_end, span, run.attempt_span);
    end.attempt = run.info.attempts;
    end.tool_turn = tool_turn;
    end.duration = since(started);
    RunTrace::describe_failure(end, failure, cancelled);
    run.trace.emit(end);
}

/// Sends one request with request_start/request_end events around it.
asio::awaitable<ModelReply> send_observed_request(Run& run, ModelRequest& request, int tool_turn, std::string span) {
    request.on_retry = [&run, span](int retry, std::chrono::milliseconds delay, const Diagnostics& why) {
        Event e = run.trace.make(EventType::retry_scheduled, span, run.attempt_span);
        e.attempt = run.info.attempts;
        e.retry_level = "request";
        e.delay = delay;
        e.http_status = why.http_status;
        e.reason = why.message.empty() ? "retry " + std::to_string(retry) : why.message;
        run.trace.emit(e);
    };
    emit_request_start(run, request, span, tool_turn);
    const auto started = std::chrono::steady_clock::now();
    std::exception_ptr failure;
    try {
        ModelReply reply = co_await run.provider->complete(request);
        emit_request_ok(run, reply, span, tool_turn, started);
        co_return reply;
    } catch (...) {
        failure = std::current_exception();
    }
    emit_request_failed(run, span, tool_turn, started, failure, co_await cancelled_by_caller());
    std::rethrow_exception(failure);
}

/// Sends one request, reporting it as a span under the current attempt when observed. Not a coroutine:
/// an unobserved request is the provider's own awaitable, without a frame of its own.
asio::awaitable<ModelReply> send_request(Run& run, ModelRequest& request, int tool_turn) {
    ++run.info.requests;
    const bool observed = run.trace.on();
    std::string span = observed || run.settings().propagate_traceparent ? new_span_id() : std::string();
    if (run.settings().propagate_traceparent)
        request.headers.emplace_back("traceparent", "00-" + run.trace.trace_id + "-" + span + "-01");
    if (!observed) return run.provider->complete(request);
    return send_observed_request(run, request, tool_turn, std::move(span));
}

void emit_finalize(const Run& run, const std::string& text) {
    Event e = run.trace.make(EventType::finalize, run.attempt_span, run.trace.command_span);
    e.attempt = run.info.attempts;
    e.reason = snippet(text);
    run.trace.emit(e);
}

void emit_attempt_start(const Run& run, int attempt) {
    Event e = run.trace.make(EventType::attempt_start, run.attempt_span, run.trace.command_span);
    e.attempt = attempt;
    run.trace.emit(e);
}

void emit_attempt_ok(const Run& run, int attempt, std::chrono::steady_clock::time_point started, int tool_turns) {
    Event e = run.trace.make(EventType::attempt_end, run.attempt_span, run.trace.command_span);
    e.attempt = attempt;
    e.outcome = "ok";
    e.duration = since(started);
    e.tool_turn = tool_turns;
    run.trace.emit(e);
}

void emit_attempt_failed(const Run& run, int attempt, std::chrono::steady_clock::time_point started,
                         std::exception_ptr failure, bool cancelled) {
    Event e = run.trace.make(EventType::attempt_end, run.attempt_span, run.trace.command_span);
    e.attempt = attempt;
    e.duration = since(started);
    RunTrace::describe_failure(e, failure, cancelled);
    run.trace.emit(e);
}

void emit_command_retry(const Run& run, int attempt, std::chrono::milliseconds delay, std::exception_ptr failure) {
    Event e = run.trace.make(EventType::retry_scheduled, run.attempt_span, run.trace.command_span);
    e.attempt = attempt;
    e.retry_level = "command";
    e.delay = delay;
    RunTrace::describe_failure(e, failure, false);
    e.reason = e.error_message;
    e.outcome.clear();
    run.trace.emit(e);
}

void emit_command_start(const Run& run) {
    Event e = run.trace.make(EventType::command_start, run.trace.command_span, {});
    if (run.trace.content) e.content = run.prompt;
    run.trace.emit(e);
}

void emit_command_end(const Run& run, std::exception_ptr failure, bool cancelled) {
    Event e = run.trace.make(EventType::command_end, run.trace.command_span, {});
    e.attempt = run.info.attempts;
    e.duration = run.info.duration;
    e.usage = run.info.usage;
    e.tool_turn = run.info.tool_turns;
    if (failure) {
        RunTrace::describe_failure(e, failure, cancelled);
    } else {
        e.outcome = "ok";
        if (run.trace.content) e.content = run.info.text;
    }
    run.trace.emit(e);
}

/// The last attempt failed: rethrows its error, recording the attempts (other exceptions are wrapped in
/// CommandError(other)).
[[noreturn]] void throw_final_failure(const Run& run, int attempt, std::exception_ptr failure) {
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

/// The jittered backoff before attempt `attempt + 1`, honouring a provider's Retry-After.
std::chrono::milliseconds command_retry_delay(const Run& run, int attempt, std::exception_ptr failure,
                                              std::unique_ptr<std::mt19937_64>& rng) {
    std::optional<std::chrono::milliseconds> retry_after;
    try {
        std::rethrow_exception(failure);
    } catch (const CommandError& e) {
        retry_after = e.diagnostics().retry_after;
    } catch (...) {
    }
    if (!rng) rng = std::make_unique<std::mt19937_64>(std::random_device{}());
    return retry::backoff_delay(attempt - 1, run.settings().backoff_initial, run.settings().backoff_max, retry_after,
                                run.settings().retry_after_max, *rng);
}

/// The first request of an attempt: its messages are the transcript, so a tool turn appends to it
/// instead of copying the transcript, tool specs and output schema into a new request.
ModelRequest first_request(const Run& run) {
    ModelRequest request = build_request(run.settings(), *run.def, {}, ToolChoice::automatic);
    request.messages.push_back(Message{Message::Role::user, run.prompt, {}, {}});
    return request;
}

/// Prepares `request` for the next turn (tool choice; headers and the retry hook are per send).
void next_turn(ModelRequest& request, const LoopState& state) {
    request.tool_choice = state.finalizing ? ToolChoice::none : ToolChoice::automatic;
    request.headers.clear();
    request.on_retry = nullptr;
}

/// Takes a reply into the attempt: usage, the next step, and for finish/finalize what they do.
Step take_reply(Run& run, ModelRequest& request, LoopState& state, ModelReply& reply) {
    run.info.usage += reply.usage;
    const LoopRules rules{run.settings().max_tool_turns, run.settings().auto_finalize_missing_output, run.def->mode,
                          run.def->output.get()};
    if (run.accept && rules.mode == OutputMode::typed && (reply.tool_calls.empty() || state.finalizing)) {
        // An answer that parses into T is complete: parsing it is the whole check, done once. One that
        // does not is judged below (finalize when the output is missing, else the parse error again).
        try {
            run.accept(reply.text);
            return Step::finish;
        } catch (const CommandError& e) {
            if (e.kind() != ErrorKind::output_parse) throw;
        }
    }
    const Step step = decide_step(reply, state, rules);
    if (step == Step::finish) {
        if (run.accept) run.accept(reply.text);
    } else if (step == Step::finalize) {
        if (run.trace.on()) emit_finalize(run, reply.text);
        request.messages.push_back(Message{Message::Role::assistant, std::move(reply.text), {}, {}});
        request.messages.push_back(Message{Message::Role::user, finalize_prompt(), {}, {}});
    }
    return step;
}

/// Runs the reply's tool calls and appends the call and its results to the transcript. A coroutine of
/// its own, so the tool machinery is in memory only while tools run, not while the model is asked.
asio::awaitable<void> run_tool_turn(Run& run, std::vector<Message>& transcript, ModelReply reply) {
    const ToolTrace tool_trace{&run.trace, run.attempt_span, run.info.attempts};
    ToolContext context{run.runtime->blocking_executor(), run.runtime, run.info.run_id,
                        run.trace.on() ? &tool_trace : nullptr};
    std::vector<ToolResult> results =
        co_await run_tool_calls(reply.tool_calls, run.tools, run.settings().parallel_tools_max, std::move(context));
    transcript.push_back(Message{Message::Role::assistant, std::move(reply.text), std::move(reply.tool_calls), {}});
    transcript.push_back(Message{Message::Role::tool, {}, {}, std::move(results)});
}

/// One attempt: the tool loop until the model answers, then (typed mode) the parse. Its frame is alive
/// for the whole attempt in every in-flight command, so the work between requests is in plain
/// functions and in run_tool_turn.
asio::awaitable<Attempt> run_attempt(Run& run) {
    ModelRequest request = first_request(run);
    LoopState state;
    for (;;) {
        next_turn(request, state);
        ModelReply reply = co_await send_request(run, request, state.tool_turns);
        const Step step = take_reply(run, request, state, reply);
        if (step == Step::finish) co_return Attempt{std::move(reply.text), state.tool_turns};
        if (step == Step::run_tools) co_await run_tool_turn(run, request.messages, std::move(reply));
    }
}

/// One attempt bounded by the attempt timeout, if any. Not a coroutine: no frame when unbounded.
asio::awaitable<Attempt> run_bounded_attempt(Run& run) {
    if (run.settings().timeout.count() <= 0) return run_attempt(run);
    return with_timeout(run_attempt(run), run.settings().timeout, "command '" + run.def->name + "' attempt", "attempt");
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
        if (observed) emit_attempt_start(run, attempt);
        std::exception_ptr failure;
        try {
            Attempt result = co_await run_bounded_attempt(run);
            run.info.text = std::move(result.text);
            run.info.tool_turns = result.tool_turns;
            if (observed) emit_attempt_ok(run, attempt, started, result.tool_turns);
            co_return;
        } catch (...) {
            failure = std::current_exception();
        }
        const bool cancelled = co_await cancelled_by_caller();
        if (observed) emit_attempt_failed(run, attempt, started, failure, cancelled);
        if (cancelled) std::rethrow_exception(failure);
        if (attempt >= run.settings().retry || !should_retry(run.settings(), failure))
            throw_final_failure(run, attempt, failure);
        const auto delay = command_retry_delay(run, attempt, failure, rng);
        if (run.trace.on()) emit_command_retry(run, attempt, delay, failure);
        if (delay.count() > 0) {
            asio::steady_timer timer(co_await asio::this_coro::executor, delay);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }
}

/// Fills `run` for a call (settings, provider, ids). A plain function, so its temporaries stay out of
/// run_command's frame.
void start_run(Run& run, std::shared_ptr<const CommandDef> def, std::string prompt, const Settings* call,
               Runtime* runtime, std::function<void(std::string_view)> accept) {
    static const Settings no_overrides;
    run.runtime = runtime ? runtime : &Runtime::global();
    CallSettings resolved = resolve_call_shared(def, call ? *call : no_overrides, *run.runtime);
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
    // Trace ids are drawn only when something reads them: observers or a traceparent header.
    if (run.trace.on() || run.settings().propagate_traceparent) {
        run.trace.trace_id = new_trace_id();
        run.trace.command_span = new_span_id();
    }
}

/// The attempts, bounded by the command deadline if any. Not a coroutine: no frame when unbounded.
asio::awaitable<void> run_within_deadline(Run& run) {
    if (run.settings().deadline.count() <= 0) return run_attempts(run);
    return with_timeout(run_attempts(run), run.settings().deadline, "command '" + run.def->name + "'", "deadline");
}

}  // namespace

asio::awaitable<RunInfo> run_command(std::shared_ptr<const CommandDef> def, std::string prompt,
                                     std::shared_ptr<const Settings> call,
                                     Runtime* runtime, std::function<void(std::string_view)> accept) {
    const auto started = std::chrono::steady_clock::now();
    Run run;
    start_run(run, std::move(def), std::move(prompt), call.get(), runtime, std::move(accept));
    const bool observed = run.trace.on();
    if (observed) emit_command_start(run);
    std::exception_ptr failure;
    try {
        co_await run_within_deadline(run);
    } catch (...) {
        failure = std::current_exception();
    }
    run.info.duration = std::chrono::steady_clock::now() - started;
    run.runtime->record_usage(run.info.usage);
    bool cancelled = false;
    if (observed && failure) cancelled = co_await cancelled_by_caller();
    if (observed) emit_command_end(run, failure, cancelled);
    if (failure) std::rethrow_exception(failure);
    co_return std::move(run.info);
}

}  // namespace alloy::detail
