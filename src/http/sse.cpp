// SSE and NDJSON framing: pure byte-level state machines, no I/O.
#include "http/sse.hpp"

#include <alloy/errors.hpp>

#include <string>

namespace alloy::http {
namespace {

[[noreturn]] void throw_oversize(const char* what, std::size_t limit) {
    Diagnostics diagnostics;
    diagnostics.phase = "read";
    diagnostics.message = std::string(what) + " larger than " + std::to_string(limit) + " bytes";
    throw CommandError(ErrorKind::protocol,
                       "streamed response: " + diagnostics.message, diagnostics);
}

}  // namespace

SseDecoder::SseDecoder(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

std::vector<SseEvent> SseDecoder::feed(std::string_view bytes) {
    std::vector<SseEvent> out;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        if (last_was_cr_) {
            // A CR ended the previous line; an LF right after it belongs to the same line end.
            last_was_cr_ = false;
            if (bytes[pos] == '\n') {
                ++pos;
                continue;
            }
        }
        const std::size_t end = bytes.find_first_of("\r\n", pos);
        const std::size_t stop = end == std::string_view::npos ? bytes.size() : end;
        line_.append(bytes.data() + pos, stop - pos);
        if (line_.size() + current_.data.size() + current_.event.size() > max_event_bytes_)
            throw_oversize("a server-sent event", max_event_bytes_);
        if (end == std::string_view::npos) break;
        last_was_cr_ = bytes[end] == '\r';
        pos = end + 1;
        std::string line = std::move(line_);
        line_.clear();
        take_line(line, out);
    }
    return out;
}

void SseDecoder::take_line(std::string_view line, std::vector<SseEvent>& out) {
    if (line.empty()) {
        // A blank line dispatches the event; one without data is dropped (WHATWG).
        if (has_data_) out.push_back(current_);
        current_.event.clear();
        current_.data.clear();
        has_data_ = false;
        return;
    }
    if (line.front() == ':') return;  // comment
    const std::size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
        if (has_data_) current_.data.push_back('\n');
        current_.data.append(value);
        has_data_ = true;
    } else if (field == "event") {
        current_.event.assign(value);
    } else if (field == "id") {
        // The last event id persists across events until changed (WHATWG); ids with NUL are ignored.
        if (value.find('\0') == std::string_view::npos) current_.id.assign(value);
    }
    // "retry" and unknown fields are ignored.
    if (current_.data.size() + current_.event.size() > max_event_bytes_)
        throw_oversize("a server-sent event", max_event_bytes_);
}

std::optional<SseEvent> SseDecoder::finish() {
    std::vector<SseEvent> out;
    if (!line_.empty()) {
        std::string line = std::move(line_);
        line_.clear();
        take_line(line, out);
    }
    last_was_cr_ = false;
    take_line({}, out);
    if (out.empty()) return std::nullopt;
    return std::move(out.front());
}

NdjsonDecoder::NdjsonDecoder(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

namespace {

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

std::vector<std::string> NdjsonDecoder::feed(std::string_view bytes) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        const std::size_t end = bytes.find('\n', pos);
        const std::size_t stop = end == std::string_view::npos ? bytes.size() : end;
        line_.append(bytes.data() + pos, stop - pos);
        // The limit counts the line without its CR, which may still be pending at the end of line_.
        const std::size_t pending_cr = !line_.empty() && line_.back() == '\r' ? 1 : 0;
        if (line_.size() - pending_cr > max_line_bytes_) throw_oversize("an NDJSON line", max_line_bytes_);
        if (end == std::string_view::npos) break;
        pos = end + 1;
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        if (!is_blank(line_)) out.push_back(std::move(line_));
        line_.clear();
    }
    return out;
}

std::optional<std::string> NdjsonDecoder::finish() {
    std::string line = std::move(line_);
    line_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (is_blank(line)) return std::nullopt;
    return line;
}

}  // namespace alloy::http
