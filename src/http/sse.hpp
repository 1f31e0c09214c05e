// Incremental decoders for streamed response bodies: Server-Sent Events and newline-delimited JSON.
//
// Both are sans-IO: feed them bytes as they arrive, split anywhere (even inside a CRLF or a UTF-8
// sequence), and they hand back complete events. Lines are scanned in place in the fed bytes; only a
// line cut by the end of a chunk is buffered (in a buffer reused across lines). Internal header.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace alloy::http {

/// One Server-Sent Event. `data` joins repeated `data:` lines with '\n'.
struct SseEvent {
    std::string event;  ///< value of the `event:` field, empty when absent
    std::string data;
    std::string id;
};

/// SSE decoder following the WHATWG rules: one leading byte order mark is skipped; LF, CRLF or CR
/// line ends; a blank line ends an event; lines starting with ':' are comments; one optional space
/// after the colon is stripped; events without data are dropped; `retry` and unknown fields are
/// ignored. `max_event_bytes` bounds a single event (protocol error beyond it).
class SseDecoder {
public:
    explicit SseDecoder(std::size_t max_event_bytes = 16u << 20);

    /// Consumes `bytes`, returns the events completed by them (possibly none).
    /// Throws alloy::CommandError (kind protocol) when an event exceeds max_event_bytes.
    std::vector<SseEvent> feed(std::string_view bytes);

    /// Consumes `bytes` and calls `on_event(const SseEvent&)` for each completed event, without copying
    /// it: the event is valid only during the call. Throws like feed(bytes) and lets exceptions of
    /// `on_event` through (the decoder is then unusable).
    template <class OnEvent>
    void feed(std::string_view bytes, OnEvent&& on_event) {
        feed_to(bytes, Sink{&call<std::remove_reference_t<OnEvent>>, std::addressof(on_event)});
    }

    /// Call at the end of the body: returns an event left unterminated by a blank line, if any.
    std::optional<SseEvent> finish();

private:
    /// Type-erased reference to the caller's event handler.
    struct Sink {
        void (*invoke)(const void* handler, const SseEvent& event);
        const void* handler;
    };
    template <class F>
    static void call(const void* handler, const SseEvent& event) {
        (*const_cast<F*>(static_cast<const F*>(handler)))(event);
    }

    void feed_to(std::string_view bytes, Sink sink);
    void take_line(std::string_view line, Sink sink);
    void check_size(std::size_t pending_line_bytes) const;

    std::string partial_;      ///< start of a line cut by the end of the previous chunk
    SseEvent current_;         ///< fields of the event being read; `id` persists across events
    bool has_data_ = false;
    bool skip_lf_ = false;     ///< the previous chunk ended with CR: a leading LF completes that CRLF
    bool first_line_ = true;   ///< a byte order mark may still start the stream
    std::size_t max_event_bytes_;
};

/// NDJSON decoder: one JSON text per line (LF or CRLF); blank lines are skipped.
class NdjsonDecoder {
public:
    explicit NdjsonDecoder(std::size_t max_line_bytes = 16u << 20);

    /// Consumes `bytes`, returns the complete lines (without line ends). Throws like SseDecoder.
    std::vector<std::string> feed(std::string_view bytes);

    /// Consumes `bytes` and calls `on_line(std::string_view)` for each complete, non-blank line (without
    /// its line end); the view is valid only during the call. Throws like feed(bytes).
    template <class OnLine>
    void feed(std::string_view bytes, OnLine&& on_line) {
        feed_to(bytes, Sink{&call<std::remove_reference_t<OnLine>>, std::addressof(on_line)});
    }

    /// Call at the end of the body: returns a last line without a line end, if any.
    std::optional<std::string> finish();

private:
    struct Sink {
        void (*invoke)(const void* handler, std::string_view line);
        const void* handler;
    };
    template <class F>
    static void call(const void* handler, std::string_view line) {
        (*const_cast<F*>(static_cast<const F*>(handler)))(line);
    }

    void feed_to(std::string_view bytes, Sink sink);

    std::string partial_;  ///< start of a line cut by the end of the previous chunk
    std::size_t max_line_bytes_;
};

}  // namespace alloy::http
