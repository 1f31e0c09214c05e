#include "providers/body_writer.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace alloy::providers::detail {
namespace {

// Bodies are written into a per-thread buffer that keeps its capacity, so a body costs one
// allocation: the exact-size string finish() returns. A buffer grown past max_kept_capacity by a
// huge prompt is freed rather than kept.
constexpr std::size_t initial_capacity = 4096;
constexpr std::size_t max_kept_capacity = 64 * 1024;

struct ThreadBuffer {
    std::unique_ptr<char[]> data;
    std::size_t capacity = 0;
    bool in_use = false;
};
thread_local ThreadBuffer thread_buffer;

constexpr char hex_digits[] = "0123456789abcdef";

bool needs_escape(unsigned char byte) noexcept { return byte < 0x20 || byte == '"' || byte == '\\'; }

// Index of the first byte in [i, n) that needs an escape (n if none), scanning 8 bytes per step: a
// word is skipped whole when no byte is below 0x20, a quote or a backslash.
std::size_t next_escape(const char* text, std::size_t i, std::size_t n) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t word;
        std::memcpy(&word, text + i, 8);
        const std::uint64_t quote = word ^ (ones * '"');
        const std::uint64_t backslash = word ^ (ones * '\\');
        const std::uint64_t hits =
            ((word - ones * 0x20) & ~word) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash);
        if (hits & highs) break;
    }
    while (i < n && !needs_escape(static_cast<unsigned char>(text[i]))) ++i;
    return i;
}

}  // namespace

BodyWriter::BodyWriter(const boost::json::object& extra) : extra_(extra) {
    // A writer nested in another on the same thread (never done today) gets a buffer of its own.
    if (!thread_buffer.in_use) {
        thread_buffer.in_use = true;
        borrowed_ = true;
        data_ = std::move(thread_buffer.data);
        capacity_ = data_ ? thread_buffer.capacity : 0;
    }
    reserve(1);
    data_[size_++] = '{';
}

BodyWriter::~BodyWriter() {
    if (!borrowed_) return;
    if (capacity_ <= max_kept_capacity) {
        thread_buffer.data = std::move(data_);
        thread_buffer.capacity = capacity_;
    }
    thread_buffer.in_use = false;
}

void BodyWriter::reserve(std::size_t more) {
    if (capacity_ - size_ >= more) return;
    const std::size_t capacity = std::max({initial_capacity, capacity_ * 2, size_ + more});
    auto data = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_) std::memcpy(data.get(), data_.get(), size_);
    data_ = std::move(data);
    capacity_ = capacity;
}

void BodyWriter::append(const char* data, std::size_t size) {
    reserve(size);
    std::memcpy(data_.get() + size_, data, size);
    size_ += size;
}

void BodyWriter::quoted(std::string_view text) {
    const std::size_t n = text.size();
    reserve(n + 2);
    data_[size_++] = '"';
    std::size_t i = 0;
    for (;;) {
        const std::size_t j = next_escape(text.data(), i, n);
        std::memcpy(data_.get() + size_, text.data() + i, j - i);
        size_ += j - i;
        if (j == n) break;
        // An escape takes up to 6 bytes for 1: make room for it, the rest of the text and the quote.
        reserve(6 + (n - j - 1) + 1);
        const auto byte = static_cast<unsigned char>(text[j]);
        char* out = data_.get() + size_;
        *out++ = '\\';
        if (byte >= 0x20) {
            *out++ = static_cast<char>(byte);
        } else {
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex_digits[byte >> 4];
            *out++ = hex_digits[byte & 0xf];
        }
        size_ = static_cast<std::size_t>(out - data_.get());
        i = j + 1;
    }
    data_[size_++] = '"';
}

bool BodyWriter::member(std::string_view key) {
    if (!extra_.empty() && extra_.contains(key)) return false;
    this->key(key);
    return true;
}

void BodyWriter::key(std::string_view key) {
    separate();
    quoted(key);
    append(":", 1);
    comma_ = false;
}

void BodyWriter::separate() {
    if (comma_) append(",", 1);
}

void BodyWriter::begin_object() {
    separate();
    append("{", 1);
    comma_ = false;
}

void BodyWriter::end_object() {
    append("}", 1);
    comma_ = true;
}

void BodyWriter::begin_array() {
    separate();
    append("[", 1);
    comma_ = false;
}

void BodyWriter::end_array() {
    append("]", 1);
    comma_ = true;
}

void BodyWriter::string(std::string_view text) {
    separate();
    quoted(text);
    comma_ = true;
}

void BodyWriter::null() {
    separate();
    append("null", 4);
    comma_ = true;
}

void BodyWriter::boolean(bool value) {
    separate();
    if (value) append("true", 4);
    else append("false", 5);
    comma_ = true;
}

void BodyWriter::integer(std::int64_t value) {
    separate();
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    append(buffer, static_cast<std::size_t>(result.ptr - buffer));
    comma_ = true;
}

void BodyWriter::number(double value) {
    if (!std::isfinite(value)) {  // not JSON; written as Boost.JSON writes it in tree-built bodies
        this->value(boost::json::value(value));
        return;
    }
    separate();
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round trip
    append(buffer, static_cast<std::size_t>(result.ptr - buffer));
    comma_ = true;
}

void BodyWriter::raw(std::string_view json) {
    separate();
    append(json.data(), json.size());
    comma_ = true;
}

void BodyWriter::value(const boost::json::value& v) { serialized(&v); }

void BodyWriter::value(const boost::json::object& o) { serialized(&o); }

template <class Value>
void BodyWriter::serialized(const Value* v) {
    separate();
    boost::json::serializer serializer;
    serializer.reset(v);
    while (!serializer.done()) {
        reserve(1024);
        size_ += serializer.read(data_.get() + size_, capacity_ - size_).size();
    }
    comma_ = true;
}

std::string BodyWriter::finish() {
    for (const auto& entry : extra_) {
        key(entry.key());
        value(entry.value());
    }
    append("}", 1);
    return std::string(data_.get(), size_);
}

}  // namespace alloy::providers::detail
