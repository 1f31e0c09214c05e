// Incremental decoders for streamed response bodies: Server-Sent Events and newline-delimited JSON.
//
// Both are sans-IO: feed them bytes as they arrive, split anywhere (even inside a CRLF or a UTF-8
// sequence), and they hand back complete events. Internal header.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alloy::http {

/// One Server-Sent Event. `data` joins repeated `data:` lines with '\n'.
struct SseEvent {
    std::string event;  ///< value of the `event:` field, empty when absent
    std::string data;
    std::string id;
};

/// SSE decoder following the WHATWG rules: LF, CRLF or CR line ends; a blank line ends an event;
/// lines starting with ':' are comments; one optional space after the colon is stripped; events
/// without data are dropped. `max_event_bytes` bounds a single event (protocol error beyond it).
class SseDecoder {
public:
    explicit SseDecoder(std::size_t max_event_bytes = 16u << 20);
    /// Consumes `bytes`, returns the events completed by them (possibly none).
    /// Throws alloy::CommandError (kind protocol) when an event exceeds max_event_bytes.
    std::vector<SseEvent> feed(std::string_view bytes);
    /// Call at the end of the body: returns an event left unterminated by a blank line, if any.
    std::optional<SseEvent> finish();

private:
    void take_line(std::string_view line, std::vector<SseEvent>& out);
    std::string line_;
    SseEvent current_;
    bool has_data_ = false;
    bool last_was_cr_ = false;
    std::size_t max_event_bytes_;
};

/// NDJSON decoder: one JSON text per line (LF or CRLF); blank lines are skipped.
class NdjsonDecoder {
public:
    explicit NdjsonDecoder(std::size_t max_line_bytes = 16u << 20);
    /// Consumes `bytes`, returns the complete lines (without line ends). Throws like SseDecoder.
    std::vector<std::string> feed(std::string_view bytes);
    /// Call at the end of the body: returns a last line without a line end, if any.
    std::optional<std::string> finish();

private:
    std::string line_;
    std::size_t max_line_bytes_;
};

}  // namespace alloy::http
