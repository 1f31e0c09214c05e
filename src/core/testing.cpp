#include <alloy/testing.hpp>

#include "engine/retry_policy.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>

namespace asio = boost::asio;

namespace alloy::testing {

ToolCall call(std::string name, const boost::json::value& args, std::string id) {
    static std::atomic<int> counter{0};
    ToolCall c;
    c.id = id.empty() ? "call_" + name + "_" + std::to_string(++counter) : std::move(id);
    c.name = std::move(name);
    c.arguments = boost::json::serialize(args);
    return c;
}

ScriptedProvider& ScriptedProvider::reply(ModelReply r) {
    std::lock_guard lock(mutex_);
    steps_.push_back(Step{std::move(r), nullptr, {}, {}});
    return *this;
}

ScriptedProvider& ScriptedProvider::reply_text(std::string text, Usage usage) {
    ModelReply r;
    r.text = std::move(text);
    r.usage = usage;
    r.finish = FinishReason::stop;
    r.raw_finish_reason = "stop";
    return reply(std::move(r));
}

ScriptedProvider& ScriptedProvider::reply_json(const boost::json::value& value) {
    return reply_text(boost::json::serialize(value));
}

ScriptedProvider& ScriptedProvider::reply_tool_calls(std::vector<ToolCall> calls, std::string text) {
    ModelReply r;
    r.text = std::move(text);
    r.tool_calls = std::move(calls);
    r.finish = FinishReason::tool_calls;
    r.raw_finish_reason = "tool_calls";
    return reply(std::move(r));
}

ScriptedProvider& ScriptedProvider::fail(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    steps_.push_back(Step{std::nullopt, std::move(error), {}, {}});
    return *this;
}

ScriptedProvider& ScriptedProvider::fail_status(int status, std::optional<std::chrono::milliseconds> retry_after,
                                                std::string message) {
    Diagnostics diag;
    diag.http_status = status;
    diag.provider = "scripted";
    diag.message = message;
    diag.retry_after = retry_after;
    diag.retryable = retry::is_retryable_status(status);
    return fail(CommandError(ErrorKind::provider_status,
                             "scripted returned HTTP " + std::to_string(status) + ": " + message, std::move(diag)));
}

ScriptedProvider& ScriptedProvider::respond(std::function<ModelReply(const ModelRequest&)> fn) {
    std::lock_guard lock(mutex_);
    steps_.push_back(Step{std::nullopt, nullptr, std::move(fn), {}});
    return *this;
}

ScriptedProvider& ScriptedProvider::delay(std::chrono::milliseconds d) {
    std::lock_guard lock(mutex_);
    if (steps_.empty()) throw ConfigurationError("ScriptedProvider::delay() needs a queued step");
    steps_.back().delay = d;
    return *this;
}

ScriptedProvider& ScriptedProvider::otherwise(std::function<ModelReply(const ModelRequest&)> fn) {
    std::lock_guard lock(mutex_);
    fallback_ = std::move(fn);
    return *this;
}

ScriptedProvider& ScriptedProvider::with_capabilities(ProviderCapabilities caps) {
    std::lock_guard lock(mutex_);
    caps_ = caps;
    return *this;
}

ScriptedProvider& ScriptedProvider::stream_chunk_chars(std::size_t n) {
    std::lock_guard lock(mutex_);
    chunk_chars_ = n == 0 ? 1 : n;
    return *this;
}

std::vector<ModelRequest> ScriptedProvider::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::size_t ScriptedProvider::request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
}

std::size_t ScriptedProvider::pending() const {
    std::lock_guard lock(mutex_);
    return steps_.size();
}

int ScriptedProvider::in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_;
}

ProviderCapabilities ScriptedProvider::capabilities() const noexcept {
    std::lock_guard lock(mutex_);
    return caps_;
}

ScriptedProvider::Step ScriptedProvider::take(const ModelRequest& request) {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    if (steps_.empty()) {
        if (fallback_) return Step{std::nullopt, nullptr, fallback_, {}};
        return Step{std::nullopt,
                    std::make_exception_ptr(CommandError(ErrorKind::protocol, "scripted provider: no scripted reply left "
                                                                              "for request " +
                                                                                  std::to_string(requests_.size()))),
                    {},
                    {}};
    }
    Step s = std::move(steps_.front());
    steps_.pop_front();
    return s;
}

asio::awaitable<ModelReply> ScriptedProvider::answer(ModelRequest request) {
    Step step = take(request);
    {
        std::lock_guard lock(mutex_);
        ++in_flight_;
    }
    struct Leave {
        ScriptedProvider* self;
        ~Leave() {
            std::lock_guard lock(self->mutex_);
            --self->in_flight_;
        }
    } leave{this};
    auto ex = co_await asio::this_coro::executor;
    if (step.delay.count() > 0) {
        asio::steady_timer timer(ex, step.delay);
        co_await timer.async_wait(asio::use_awaitable);
    } else {
        co_await asio::post(ex, asio::use_awaitable);  // suspend once, like real I/O
    }
    if (step.error) std::rethrow_exception(step.error);
    if (step.respond) co_return step.respond(request);
    co_return std::move(*step.reply);
}

asio::awaitable<ModelReply> ScriptedProvider::complete(const ModelRequest& request) {
    // Copy the request before the first suspension: the caller only guarantees it until then.
    co_return co_await answer(request);
}

namespace {

class ScriptedStream final : public ReplyStream {
public:
    ScriptedStream(ModelReply reply, std::size_t chunk) : reply_(std::move(reply)), chunk_(chunk) {}
    asio::awaitable<std::optional<std::string>> next() override {
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        if (pos_ >= reply_.text.size()) co_return std::nullopt;
        std::string piece = reply_.text.substr(pos_, chunk_);
        pos_ += piece.size();
        co_return piece;
    }
    const ModelReply& final() const override { return reply_; }

private:
    ModelReply reply_;
    std::size_t chunk_;
    std::size_t pos_ = 0;
};

}  // namespace

asio::awaitable<std::unique_ptr<ReplyStream>> ScriptedProvider::stream(const ModelRequest& request) {
    ModelReply reply = co_await answer(request);
    std::size_t chunk = 0;
    {
        std::lock_guard lock(mutex_);
        chunk = chunk_chars_;
    }
    co_return std::make_unique<ScriptedStream>(std::move(reply), chunk);
}

}  // namespace alloy::testing
