// A streamed run: text chunks pulled by the caller, tool turns run between streamed turns.
#include "engine/engine.hpp"
#include "engine/retry_policy.hpp"
#include "engine/run_trace.hpp"
#include "engine/timeout.hpp"
#include "engine/tool_loop.hpp"
#include "engine/tool_runner.hpp"

#include <alloy/stream.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <random>

namespace asio = boost::asio;

namespace alloy::detail {

class StreamRun {
public:
    StreamRun(std::shared_ptr<const CommandDef> def, std::string prompt, std::shared_ptr<const Settings> call,
              Runtime* runtime)
        : def_(std::move(def)), prompt_(std::move(prompt)), call_(std::move(call)),
          runtime_(runtime ? runtime : &Runtime::global()) {}

    asio::awaitable<std::optional<std::string>> next() {
        if (done_) co_return std::nullopt;
        if (!started_) {
            try {
                start();
            } catch (...) {
                done_ = true;  // a stream that could not start (configuration, provider) stays ended
                throw;
            }
        }
        for (;;) {
            std::exception_ptr failure;
            try {
                std::optional<std::string> chunk = co_await step();
                co_return chunk;
            } catch (...) {
                failure = std::current_exception();
            }
            // A failure before any text reached the caller is a failed attempt like any other; after
            // that, the caller has seen part of an answer and the error is theirs to handle.
            if (co_await cancelled_by_caller()) { close(); std::rethrow_exception(failure); }
            if (delivered_ || attempt_ >= settings().retry || !should_retry(settings(), failure)) {
                close();
                done_ = true;
                report_end(failure);
                try {
                    std::rethrow_exception(failure);
                } catch (CommandError& e) {
                    e.record_attempts(attempt_);
                    throw;
                }
            }
            if (!rng_) rng_ = std::make_unique<std::mt19937_64>(std::random_device{}());
            const auto delay = retry::backoff_delay(attempt_ - 1, settings().backoff_initial, settings().backoff_max,
                                                    retry_after(failure), settings().retry_after_max, *rng_);
            reset_attempt();
            if (delay.count() > 0) {
                asio::steady_timer timer(co_await asio::this_coro::executor, delay);
                co_await timer.async_wait(asio::use_awaitable);
            }
        }
    }

    Usage usage() const { return usage_; }
    Runtime& runtime() const { return *runtime_; }

private:
    void start() {
        started_ = true;
        static const Settings no_overrides;
        CallSettings resolved = resolve_call_shared(def_, call_ ? *call_ : no_overrides, *runtime_);
        resolved_ = std::move(resolved.settings);
        tools_ = std::move(resolved.tools);
        prompt_ = render_prompt(std::move(prompt_), settings());
        provider_ = runtime_->provider_for(settings());
        const auto caps = provider_->capabilities();
        if (!caps.streaming)
            throw ConfigurationError("provider '" + std::string(provider_->name()) + "' does not support streaming");
        if (!tools_->empty() && !caps.streaming_with_tools)
            throw ConfigurationError("provider '" + std::string(provider_->name()) +
                                     "' does not support streaming with tools");
        started_at_ = std::chrono::steady_clock::now();
        trace_ = RunTrace{runtime_,      new_span_id(),  new_trace_id(), new_span_id(), def_->name, settings().model,
                          std::string(provider_->name()), runtime_->captures_content()};
        if (trace_.on()) {
            Event e = trace_.make(EventType::command_start, trace_.command_span, {});
            if (trace_.content) e.content = prompt_;
            trace_.emit(e);
        }
        reset_attempt();
    }

    /// command_end and stream_end for the whole stream; `failure` is null on success.
    void report_end(std::exception_ptr failure) {
        runtime_->record_usage(usage_);
        if (!trace_.on()) return;
        Event s = trace_.make(EventType::stream_end, trace_.command_span, {});
        s.chunks = chunks_;
        s.duration = since(started_at_);
        s.usage = usage_;
        s.outcome = failure ? "error" : "ok";
        trace_.emit(s);
        Event e = trace_.make(EventType::command_end, trace_.command_span, {});
        e.attempt = attempt_;
        e.duration = s.duration;
        e.usage = usage_;
        if (failure) RunTrace::describe_failure(e, failure, false);
        else e.outcome = "ok";
        trace_.emit(e);
    }

    void reset_attempt() {
        ++attempt_;
        stream_.reset();
        state_ = LoopState{};
        transcript_.clear();
        transcript_.push_back(Message{Message::Role::user, prompt_, {}, {}});
    }

    void close() { stream_.reset(); }

    static std::optional<std::chrono::milliseconds> retry_after(std::exception_ptr failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const CommandError& e) {
            return e.diagnostics().retry_after;
        } catch (...) {
            return std::nullopt;
        }
    }

    /// Remaining time of the overall deadline (0 = none).
    std::chrono::milliseconds remaining() const {
        if (settings().deadline.count() <= 0) return std::chrono::milliseconds(0);
        auto left = settings().deadline - std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started_at_);
        if (left.count() <= 0) throw timeout_error("stream of '" + def_->name + "'", "deadline", settings().deadline);
        return left;
    }

    asio::awaitable<std::optional<std::string>> step() {
        for (;;) {
            if (!stream_) {
                ModelRequest request = build_request(settings(), *def_, transcript_, ToolChoice::automatic);
                request.stream = true;
                auto limit = remaining();
                if (settings().timeout.count() > 0 && (limit.count() == 0 || settings().timeout < limit))
                    limit = settings().timeout;
                stream_ = co_await with_timeout(provider_->stream(request), limit, "stream of '" + def_->name + "'",
                                                limit == settings().timeout ? "attempt" : "deadline");
            }
            const auto limit = remaining();
            std::optional<std::string> chunk =
                co_await with_timeout(stream_->next(), limit, "stream of '" + def_->name + "'", "deadline");
            if (chunk) {
                if (chunk->empty()) continue;
                if (chunks_++ == 0 && trace_.on()) {
                    Event e = trace_.make(EventType::stream_first_chunk, trace_.command_span, {});
                    e.attempt = attempt_;
                    e.duration = since(started_at_);  // time to first token
                    trace_.emit(e);
                }
                delivered_ = true;
                co_return chunk;
            }
            ModelReply reply = stream_->final();
            stream_.reset();
            usage_ += reply.usage;
            const LoopRules rules{settings().max_tool_turns, false, OutputMode::text, nullptr};
            if (decide_step(reply, state_, rules) == Step::run_tools) {
                const ToolTrace tool_trace{&trace_, trace_.command_span, attempt_};
                ToolContext context{runtime_->blocking_executor(), runtime_, trace_.run_id,
                                    trace_.on() ? &tool_trace : nullptr};
                std::vector<ToolResult> results =
                    co_await run_tool_calls(reply.tool_calls, tools_, settings().parallel_tools_max, std::move(context));
                transcript_.push_back(
                    Message{Message::Role::assistant, std::move(reply.text), std::move(reply.tool_calls), {}});
                transcript_.push_back(Message{Message::Role::tool, {}, {}, std::move(results)});
                continue;
            }
            done_ = true;
            report_end(nullptr);
            co_return std::nullopt;
        }
    }

    std::shared_ptr<const CommandDef> def_;
    std::string prompt_;
    std::shared_ptr<const Settings> call_;  ///< per-call overrides; null when none
    Runtime* runtime_;
    std::shared_ptr<const ResolvedSettings> resolved_;  ///< shared with other calls of the command
    const ResolvedSettings& settings() const noexcept { return *resolved_; }
    std::shared_ptr<const std::vector<Tool>> tools_;
    std::shared_ptr<Provider> provider_;
    std::unique_ptr<ReplyStream> stream_;
    std::vector<Message> transcript_;
    LoopState state_;
    Usage usage_;
    std::unique_ptr<std::mt19937_64> rng_;  ///< seeded on the first retry only
    std::chrono::steady_clock::time_point started_at_;
    RunTrace trace_;
    std::size_t chunks_ = 0;
    int attempt_ = 0;
    bool started_ = false;
    bool delivered_ = false;
    bool done_ = false;
};

TextStream stream_command(std::shared_ptr<const CommandDef> def, std::string prompt,
                          std::shared_ptr<const Settings> call, Runtime* runtime) {
    if (def->mode != OutputMode::text)
        throw ConfigurationError("command '" + def->name +
                                 "' has a typed or void output; only raw-text commands can stream");
    return TextStream(std::make_shared<StreamRun>(std::move(def), std::move(prompt), std::move(call), runtime));
}

namespace {

asio::awaitable<std::optional<std::string>> pull(std::shared_ptr<StreamRun> run) { co_return co_await run->next(); }

}  // namespace

}  // namespace alloy::detail

namespace alloy {

TextStream::TextStream(std::shared_ptr<detail::StreamRun> run) : run_(std::move(run)) {}
TextStream::TextStream(TextStream&&) noexcept = default;
TextStream& TextStream::operator=(TextStream&&) noexcept = default;
TextStream::~TextStream() = default;

boost::asio::awaitable<std::optional<std::string>> TextStream::next() { return detail::pull(run_); }

std::optional<std::string> TextStream::next_sync() { return run_->runtime().block_on(detail::pull(run_)); }

Usage TextStream::usage() const { return run_->usage(); }

}  // namespace alloy
