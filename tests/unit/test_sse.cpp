// SSE and NDJSON decoders: framing rules, arbitrary splits of the input, size bounds.
#include "http/sse.hpp"

#include <alloy/errors.hpp>

#include <catch2/catch.hpp>

#include <random>

using alloy::http::NdjsonDecoder;
using alloy::http::SseDecoder;
using alloy::http::SseEvent;

namespace {

/// Feeds `input` cut at the given offsets and collects the events (finish() included).
std::vector<SseEvent> decode_sse(std::string_view input, const std::vector<std::size_t>& cuts) {
    SseDecoder decoder;
    std::vector<SseEvent> events;
    std::size_t start = 0;
    for (std::size_t cut : cuts) {
        for (auto& event : decoder.feed(input.substr(start, cut - start))) events.push_back(std::move(event));
        start = cut;
    }
    for (auto& event : decoder.feed(input.substr(start))) events.push_back(std::move(event));
    if (auto last = decoder.finish()) events.push_back(std::move(*last));
    return events;
}

std::vector<SseEvent> decode_sse(std::string_view input) { return decode_sse(input, {}); }

std::vector<std::string> decode_ndjson(std::string_view input, const std::vector<std::size_t>& cuts) {
    NdjsonDecoder decoder;
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t cut : cuts) {
        for (auto& line : decoder.feed(input.substr(start, cut - start))) lines.push_back(std::move(line));
        start = cut;
    }
    for (auto& line : decoder.feed(input.substr(start))) lines.push_back(std::move(line));
    if (auto last = decoder.finish()) lines.push_back(std::move(*last));
    return lines;
}

std::vector<std::size_t> every_byte(std::size_t size) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < size; ++i) cuts.push_back(i);
    return cuts;
}

std::vector<std::size_t> random_cuts(std::size_t size, std::mt19937& random) {
    std::vector<std::size_t> cuts;
    std::uniform_int_distribution<std::size_t> step(1, 7);
    for (std::size_t at = step(random); at < size; at += step(random)) cuts.push_back(at);
    return cuts;
}

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
    return true;
}

// A stream mixing every rule: CRLF, CR, LF line ends, comments, names, ids, multi-line data, a field
// without a colon, an event without data, the optional space.
const std::string mixed_stream =
    ": keep-alive comment\r\n"
    "event: message_start\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "data:first line\n"
    "data:  second line with a kept space\n"
    "id: 7\n"
    "\n"
    "event: ping\r"
    "\r"
    "data\r"
    "\r"
    "event: done\r\n"
    "data: [DONE]\r\n"
    "\r\n";

}  // namespace

TEST_CASE("SSE: fields, comments, multi-line data and line ends", "[http][sse]") {
    const auto events = decode_sse(mixed_stream);
    REQUIRE(events.size() == 4);
    CHECK(events[0].event == "message_start");
    CHECK(events[0].data == "{\"a\":1}");
    CHECK(events[1].event.empty());
    CHECK(events[1].data == "first line\n second line with a kept space");
    CHECK(events[1].id == "7");
    // "event: ping" without data is dropped; "data" without a colon is an empty data line.
    CHECK(events[2].event.empty());
    CHECK(events[2].data.empty());
    CHECK(events[2].id == "7");  // the last event id persists
    CHECK(events[3].event == "done");
    CHECK(events[3].data == "[DONE]");
}

TEST_CASE("SSE: fed one byte at a time or in random splits gives the same events", "[http][sse]") {
    const auto whole = decode_sse(mixed_stream);
    CHECK(same(decode_sse(mixed_stream, every_byte(mixed_stream.size())), whole));
    std::mt19937 random(12345);
    for (int round = 0; round < 200; ++round)
        REQUIRE(same(decode_sse(mixed_stream, random_cuts(mixed_stream.size(), random)), whole));
}

TEST_CASE("SSE: a split between CR and LF is one line end, not two", "[http][sse]") {
    SseDecoder decoder;
    CHECK(decoder.feed("data: a\r").empty());
    CHECK(decoder.feed("\ndata: b\r").empty());
    const auto events = decoder.feed("\n\r\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "a\nb");
}

TEST_CASE("SSE: an unterminated last event is returned by finish()", "[http][sse]") {
    SseDecoder decoder;
    CHECK(decoder.feed("event: tail\ndata: x").empty());
    const auto last = decoder.finish();
    REQUIRE(last);
    CHECK(last->event == "tail");
    CHECK(last->data == "x");
    CHECK_FALSE(SseDecoder().finish());
}

TEST_CASE("SSE: an oversize event is a protocol error", "[http][sse]") {
    SseDecoder decoder(64);
    CHECK(decoder.feed("data: small\n\n").size() == 1);
    try {
        for (int i = 0; i < 20; ++i) decoder.feed("data: 0123456789\n");
        FAIL("expected a protocol error");
    } catch (const alloy::CommandError& error) {
        CHECK(error.kind() == alloy::ErrorKind::protocol);
    }
    SseDecoder one_line(64);
    CHECK_THROWS_AS(one_line.feed(std::string(100, 'x')), alloy::CommandError);
}

TEST_CASE("NDJSON: LF and CRLF, blank lines skipped, any split", "[http][ndjson]") {
    const std::string input = "{\"a\":1}\n\r\n{\"b\":2}\r\n   \n{\"c\":3}";
    const std::vector<std::string> expected = {"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"};
    CHECK(decode_ndjson(input, {}) == expected);
    CHECK(decode_ndjson(input, every_byte(input.size())) == expected);
    std::mt19937 random(99);
    for (int round = 0; round < 200; ++round) REQUIRE(decode_ndjson(input, random_cuts(input.size(), random)) == expected);
}

TEST_CASE("NDJSON: an oversize line is a protocol error", "[http][ndjson]") {
    NdjsonDecoder decoder(16);
    CHECK(decoder.feed("{\"ok\":true}\n").size() == 1);
    CHECK(decoder.feed(std::string(16, 'x') + "\r\n").size() == 1);  // exactly at the limit, CRLF excluded
    try {
        decoder.feed(std::string(10, 'y'));
        decoder.feed(std::string(10, 'y'));
        FAIL("expected a protocol error");
    } catch (const alloy::CommandError& error) {
        CHECK(error.kind() == alloy::ErrorKind::protocol);
    }
}
