// One command run: settings, retries with backoff, per-attempt timeout and overall deadline, the tool
// loop and the finalize follow-up. The decisions live in tool_loop.cpp and retry_policy.cpp; this file is
// the I/O shell around them.
#include "engine/engine.hpp"

#include "core/environment.hpp"
#include "engine/retry_policy.hpp"
#include "engine/timeout.hpp"
#include "engine/tool_loop.hpp"
#include "engine/tool_runner.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/core/demangle.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
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
    for (const auto& t : tools) specs.push_back(ToolSpec{t.name(), t.description(), t.parameters()});
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

std::string new_run_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::uint64_t v = rng();
    std::string id(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) id[static_cast<std::size_t>(i)] = hex[v & 0xf];
    return id;
}

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
    ResolvedSettings settings;
    std::shared_ptr<const std::vector<Tool>> tools;
    std::shared_ptr<Provider> provider;
    Runtime* runtime = nullptr;
    std::string prompt;
    std::function<void(std::string_view)> accept;
    RunInfo info;
};

/// One attempt: the tool loop until the model answers, then (typed mode) the parse.
asio::awaitable<Attempt> run_attempt(Run& run) {
    std::vector<Message> transcript;
    transcript.push_back(Message{Message::Role::user, run.prompt, {}, {}});
    LoopState state;
    const LoopRules rules{run.settings.max_tool_turns, run.settings.auto_finalize_missing_output, run.def->mode,
                          run.def->output ? &*run.def->output : nullptr};
    for (;;) {
        const ToolChoice choice = state.finalizing ? ToolChoice::none : ToolChoice::automatic;
        ModelRequest request = build_request(run.settings, *run.def, transcript, choice);
        ++run.info.requests;
        ModelReply reply = co_await run.provider->complete(request);
        run.info.usage += reply.usage;
        const Step step = decide_step(reply, state, rules);
        if (step == Step::finish) {
            if (run.accept) run.accept(reply.text);
            co_return Attempt{std::move(reply.text), state.tool_turns};
        }
        if (step == Step::finalize) {
            transcript.push_back(Message{Message::Role::assistant, std::move(reply.text), {}, {}});
            transcript.push_back(Message{Message::Role::user, finalize_prompt(), {}, {}});
            continue;
        }
        std::vector<ToolResult> results = co_await run_tool_calls(
            reply.tool_calls, run.tools, run.settings.parallel_tools_max, run.runtime->blocking_executor());
        transcript.push_back(Message{Message::Role::assistant, std::move(reply.text), std::move(reply.tool_calls), {}});
        transcript.push_back(Message{Message::Role::tool, {}, {}, std::move(results)});
    }
}

asio::awaitable<Attempt> run_bounded_attempt(Run& run) {
    if (run.settings.timeout.count() <= 0) co_return co_await run_attempt(run);
    co_return co_await with_timeout(run_attempt(run), run.settings.timeout, "command '" + run.def->name + "' attempt",
                                    "attempt");
}

/// Attempts with backoff until success, a non-retryable failure or the last attempt.
asio::awaitable<void> run_attempts(Run& run) {
    std::mt19937_64 rng{std::random_device{}()};
    for (int attempt = 1;; ++attempt) {
        run.info.attempts = attempt;
        std::exception_ptr failure;
        try {
            Attempt result = co_await run_bounded_attempt(run);
            run.info.text = std::move(result.text);
            run.info.tool_turns = result.tool_turns;
            co_return;
        } catch (...) {
            failure = std::current_exception();
        }
        if (co_await cancelled_by_caller()) std::rethrow_exception(failure);
        if (attempt >= run.settings.retry || !should_retry(run.settings, failure)) {
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
        const auto delay = retry::backoff_delay(attempt - 1, run.settings.backoff_initial, run.settings.backoff_max,
                                                retry_after, run.settings.retry_after_max, rng);
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
    run.settings = resolve_call(*def, call, *run.runtime);
    run.def = std::move(def);
    run.prompt = render_prompt(std::move(prompt), run.settings);
    run.tools = std::make_shared<const std::vector<Tool>>(run.settings.tools);
    run.provider = run.runtime->provider_for(run.settings);
    run.accept = std::move(accept);
    run.info.run_id = new_run_id();

    if (run.settings.deadline.count() > 0)
        co_await with_timeout(run_attempts(run), run.settings.deadline, "command '" + run.def->name + "'", "deadline");
    else
        co_await run_attempts(run);
    run.info.duration = std::chrono::steady_clock::now() - started;
    co_return std::move(run.info);
}

}  // namespace alloy::detail
