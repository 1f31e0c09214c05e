// TextStream: a pull-based stream of text chunks from `ask_stream` or `Command::stream`.
#pragma once

#include <alloy/provider.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>

namespace alloy {

namespace detail {
class StreamRun;
}

/// Text chunks of a streamed model answer. Nothing is sent until the first next().
///
/// Tool calls requested while streaming run between turns under the same loop rules as commands
/// (turn limit, concurrency cap, contracts); each turn's text is streamed. Errors (an error event inside
/// the stream, a stream cut mid-way, timeouts) are thrown from next() as CommandError; a failure before
/// any text reached the caller is retried like a command attempt, never after. Destroying the stream
/// early closes the connection. Move-only; one consumer at a time.
class TextStream {
public:
    explicit TextStream(std::shared_ptr<detail::StreamRun> run);
    TextStream(TextStream&&) noexcept;
    TextStream& operator=(TextStream&&) noexcept;
    ~TextStream();

    /// The next chunk of text, or std::nullopt once the answer is complete. Honours per-operation
    /// cancellation (a cancelled stream is closed).
    boost::asio::awaitable<std::optional<std::string>> next();

    /// Blocking form of next(), for plain code: runs the stream on the runtime's background thread.
    /// Must not be called from an io_context thread that the stream itself needs.
    std::optional<std::string> next_sync();

    /// Token usage summed over every turn; complete once next() has returned std::nullopt.
    Usage usage() const;

private:
    std::shared_ptr<detail::StreamRun> run_;
};

}  // namespace alloy
