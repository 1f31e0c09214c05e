// SSE and NDJSON framing: pure byte-level state machines, no I/O.
//
// Both scan the fed bytes with memchr and hand out views of complete lines in place; only the tail of
// a chunk that does not end a line is copied, into a buffer that keeps its capacity across lines.
#include "http/sse.hpp"

#include <alloy/errors.hpp>

#include <cstring>
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

constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";

const char* find_byte(const char* from, const char* to, char byte) {
    return from == to ? nullptr : static_cast<const char*>(std::memchr(from, byte, static_cast<std::size_t>(to - from)));
}

}  // namespace

SseDecoder::SseDecoder(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

std::vector<SseEvent> SseDecoder::feed(std::string_view bytes) {
    std::vector<SseEvent> out;
    feed(bytes, [&out](const SseEvent& event) { out.push_back(event); });
    return out;
}

void SseDecoder::check_size(std::size_t pending_line_bytes) const {
    if (pending_line_bytes + current_.data.size() + current_.event.size() > max_event_bytes_)
        throw_oversize("a server-sent event", max_event_bytes_);
}

void SseDecoder::feed_to(std::string_view bytes, Sink sink) {
    const char* pos = bytes.data();
    const char* const end = bytes.data() + bytes.size();
    if (pos == end) return;
    if (skip_lf_) {
        // A CR ended the previous chunk's last line; an LF right after it belongs to the same line end.
        skip_lf_ = false;
        if (*pos == '\n') ++pos;
    }
    // The next LF at or after `pos`, found once and reused while CR-terminated lines come before it.
    const char* lf = nullptr;
    bool lf_known = false;
    while (pos < end) {
        if (!lf_known || (lf != nullptr && lf < pos)) {
            lf = find_byte(pos, end, '\n');
            lf_known = true;
        }
        const char* const cr = find_byte(pos, lf != nullptr ? lf : end, '\r');
        const char* const stop = cr != nullptr ? cr : lf;
        if (stop == nullptr) {
            // No line end in the rest of the chunk: keep the start of the line for the next one.
            check_size(partial_.size() + static_cast<std::size_t>(end - pos));
            partial_.append(pos, end);
            break;
        }
        const std::string_view piece(pos, static_cast<std::size_t>(stop - pos));
        check_size(partial_.size() + piece.size());
        if (partial_.empty()) {
            take_line(piece, sink);
        } else {
            partial_.append(piece);
            take_line(partial_, sink);
            partial_.clear();
        }
        pos = stop + 1;
        if (*stop == '\r') {
            if (pos == end) skip_lf_ = true;
            else if (*pos == '\n') ++pos;
        }
    }
}

void SseDecoder::take_line(std::string_view line, Sink sink) {
    if (first_line_) {
        // One byte order mark may start the stream (WHATWG); it is not part of the first field name.
        first_line_ = false;
        if (line.substr(0, byte_order_mark.size()) == byte_order_mark) line.remove_prefix(byte_order_mark.size());
    }
    if (line.empty()) {
        // A blank line dispatches the event; one without data is dropped (WHATWG).
        if (has_data_) sink.invoke(sink.handler, current_);
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
    check_size(0);
}

std::optional<SseEvent> SseDecoder::finish() {
    std::optional<SseEvent> last;
    const auto keep = [&last](const SseEvent& event) { last = event; };
    const Sink sink{&call<decltype(keep)>, &keep};
    if (!partial_.empty()) {
        take_line(partial_, sink);
        partial_.clear();
    }
    skip_lf_ = false;
    take_line({}, sink);
    return last;
}

NdjsonDecoder::NdjsonDecoder(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

namespace {

bool is_blank(std::string_view line) {
    for (char c : line) {
        if (c != ' ' && c != '\t' && c != '\r') return false;
    }
    return true;
}

}  // namespace

std::vector<std::string> NdjsonDecoder::feed(std::string_view bytes) {
    std::vector<std::string> out;
    feed(bytes, [&out](std::string_view line) { out.emplace_back(line); });
    return out;
}

void NdjsonDecoder::feed_to(std::string_view bytes, Sink sink) {
    const char* pos = bytes.data();
    const char* const end = bytes.data() + bytes.size();
    while (pos < end) {
        const char* const lf = find_byte(pos, end, '\n');
        if (lf == nullptr) {
            partial_.append(pos, end);
            // The limit counts the line without its CR, which may still be pending at the end.
            const std::size_t pending_cr = partial_.back() == '\r' ? 1 : 0;
            if (partial_.size() - pending_cr > max_line_bytes_) throw_oversize("an NDJSON line", max_line_bytes_);
            break;
        }
        std::string_view line(pos, static_cast<std::size_t>(lf - pos));
        if (!partial_.empty()) {
            partial_.append(line);
            line = partial_;
        }
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > max_line_bytes_) throw_oversize("an NDJSON line", max_line_bytes_);
        if (!is_blank(line)) sink.invoke(sink.handler, line);
        partial_.clear();
        pos = lf + 1;
    }
}

std::optional<std::string> NdjsonDecoder::finish() {
    std::string_view line = partial_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::optional<std::string> last;
    if (!is_blank(line)) last.emplace(line);
    partial_.clear();
    return last;
}

}  // namespace alloy::http
