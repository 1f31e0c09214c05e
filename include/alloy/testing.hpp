// alloy::testing — a scripted in-process provider for users' own tests.
//
//   auto provider = std::make_shared<alloy::testing::ScriptedProvider>();
//   provider->reply_tool_calls({alloy::testing::call("add", {{"a", 2}, {"b", 3}})})
//            .reply_text("5");
//   alloy::Runtime rt;
//   rt.set_provider(provider);
//   auto answer = co_await my_command.in(rt)("what is 2+3?");
//   CHECK(provider->requests().size() == 2);
#pragma once

#include <alloy/errors.hpp>
#include <alloy/provider.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace alloy::testing {

/// A ToolCall with `arguments` serialised from `args`; the id defaults to "call_<name>_<n>".
ToolCall call(std::string name, const boost::json::value& args = boost::json::object{}, std::string id = {});

/// A provider that answers from a queue of scripted steps and records every request it receives.
///
/// Each request (complete or stream) consumes one step: a reply, an error, or a function of the
/// request; each step may wait first (a steady timer, cancellable). With the queue empty it uses the
/// fallback set by otherwise(), else it fails with CommandError(protocol) "no scripted reply left".
/// Streams send the reply text in chunks of `stream_chunk_chars` characters. Thread-safe.
class ScriptedProvider : public Provider {
public:
    ScriptedProvider() = default;

    /// Queues a whole reply.
    ScriptedProvider& reply(ModelReply reply);
    /// Queues a text reply.
    ScriptedProvider& reply_text(std::string text, Usage usage = {});
    /// Queues a reply whose text is the serialised JSON `value`.
    ScriptedProvider& reply_json(const boost::json::value& value);
    /// Queues a reply asking for `calls` (finish reason tool_calls), with optional assistant `text`.
    ScriptedProvider& reply_tool_calls(std::vector<ToolCall> calls, std::string text = {});
    /// Queues a failure: the request throws `error`.
    ScriptedProvider& fail(std::exception_ptr error);
    template <class E>
    ScriptedProvider& fail(E error) {
        return fail(std::make_exception_ptr(std::move(error)));
    }
    /// Queues a provider HTTP error: CommandError(provider_status) with the status, retryability from
    /// the standard classifier, and an optional server-directed retry delay.
    ScriptedProvider& fail_status(int status, std::optional<std::chrono::milliseconds> retry_after = std::nullopt,
                                  std::string message = "scripted failure");
    /// Queues a step computed from the request when it arrives.
    ScriptedProvider& respond(std::function<ModelReply(const ModelRequest&)> fn);
    /// Makes the most recently queued step wait `d` before answering.
    ScriptedProvider& delay(std::chrono::milliseconds d);
    /// Answer used when the queue is empty (instead of failing).
    ScriptedProvider& otherwise(std::function<ModelReply(const ModelRequest&)> fn);
    /// Capabilities reported to the engine (all supported by default).
    ScriptedProvider& with_capabilities(ProviderCapabilities caps);
    /// Chunk size of streamed text (default 4 characters).
    ScriptedProvider& stream_chunk_chars(std::size_t n);

    /// Every request received so far, in arrival order.
    std::vector<ModelRequest> requests() const;
    std::size_t request_count() const;
    /// Steps still queued.
    std::size_t pending() const;
    /// Requests currently being answered (waiting on a delay); 0 once everything has finished.
    int in_flight() const;

    std::string_view name() const noexcept override { return "scripted"; }
    ProviderCapabilities capabilities() const noexcept override;
    boost::asio::awaitable<ModelReply> complete(const ModelRequest& request) override;
    boost::asio::awaitable<std::unique_ptr<ReplyStream>> stream(const ModelRequest& request) override;

private:
    struct Step {
        std::optional<ModelReply> reply;
        std::exception_ptr error;
        std::function<ModelReply(const ModelRequest&)> respond;
        std::chrono::milliseconds delay{0};
    };
    Step take(const ModelRequest& request);
    boost::asio::awaitable<ModelReply> answer(ModelRequest request);

    mutable std::mutex mutex_;
    std::deque<Step> steps_;
    std::function<ModelReply(const ModelRequest&)> fallback_;
    std::vector<ModelRequest> requests_;
    ProviderCapabilities caps_;
    std::size_t chunk_chars_ = 4;
    int in_flight_ = 0;
};

}  // namespace alloy::testing
