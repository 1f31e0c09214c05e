// SSE and NDJSON decoders: framing rules, arbitrary splits of the input, size bounds.
#include "http/sse.hpp"

#include <alloy/errors.hpp>

#include <catch2/catch.hpp>

#include <random>

using alloy::http::NdjsonDecoder;
using alloy::http::SseDecoder;
using alloy::http::SseEvent;
using namespace std::string_literals;

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

namespace {

/// Feeds `input` through the callback form of feed(), cut at the given offsets.
std::vector<SseEvent> decode_sse_callback(std::string_view input, const std::vector<std::size_t>& cuts) {
    SseDecoder decoder;
    std::vector<SseEvent> events;
    const auto keep = [&events](const SseEvent& event) { events.push_back(event); };
    std::size_t start = 0;
    for (std::size_t cut : cuts) {
        decoder.feed(input.substr(start, cut - start), keep);
        start = cut;
    }
    decoder.feed(input.substr(start), keep);
    if (auto last = decoder.finish()) events.push_back(std::move(*last));
    return events;
}

}  // namespace

TEST_CASE("SSE: one leading byte order mark is skipped, at any split", "[http][sse]") {
    const std::string input = "\xEF\xBB\xBF" "data: first\n\ndata: second\n\n";
    const auto whole = decode_sse(input);
    REQUIRE(whole.size() == 2);
    CHECK(whole[0].data == "first");
    CHECK(whole[1].data == "second");
    CHECK(same(decode_sse(input, every_byte(input.size())), whole));
    CHECK(same(decode_sse(input, {1}), whole));
    CHECK(same(decode_sse(input, {2}), whole));

    // Only the first one: a second mark is part of the field name, so that line is an unknown field.
    const auto twice = decode_sse("\xEF\xBB\xBF\xEF\xBB\xBF" "data: lost\n\ndata: kept\n\n");
    REQUIRE(twice.size() == 1);
    CHECK(twice[0].data == "kept");
    // A mark later in the stream is not special either.
    const auto later = decode_sse("data: a\n\n\xEF\xBB\xBF" "data: b\n\n");
    REQUIRE(later.size() == 1);
    CHECK(later[0].data == "a");
    // A mark followed by a line end is a blank first line.
    const auto blank = decode_sse("\xEF\xBB\xBF\r\ndata: x\r\n\r\n");
    REQUIRE(blank.size() == 1);
    CHECK(blank[0].data == "x");
}

TEST_CASE("SSE: retry and unknown fields are ignored, data without space or value kept", "[http][sse]") {
    const std::string input =
        "retry: 3000\n"
        "unknown: value\n"
        "data:tight\n"
        "data:\n"
        "data\n"
        ":comment between data lines\n"
        "data:  two spaces\n"
        "id: a\0b\n"  // an id containing NUL is ignored
        "\n"s;
    const auto events = decode_sse(input);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "tight\n\n\n two spaces");
    CHECK(events[0].id.empty());
    CHECK(events[0].event.empty());
}

TEST_CASE("SSE: an id with NUL is ignored, a valid id persists until replaced", "[http][sse]") {
    const std::string input = "id: 1\ndata: a\n\nid: x\0y\ndata: b\n\nid\ndata: c\n\n"s;
    const auto events = decode_sse(input);
    REQUIRE(events.size() == 3);
    CHECK(events[0].id == "1");
    CHECK(events[1].id == "1");
    CHECK(events[2].id.empty());  // "id" without a value resets it
    CHECK(same(decode_sse(input, every_byte(input.size())), events));
}

TEST_CASE("SSE: CR-only and long lines across many chunks", "[http][sse]") {
    std::string input;
    for (int i = 0; i < 50; ++i) input += "event: e" + std::to_string(i) + "\rdata: " + std::string(300, 'a' + i % 26) + "\r\r";
    const auto whole = decode_sse(input);
    REQUIRE(whole.size() == 50);
    CHECK(whole[49].event == "e49");
    CHECK(whole[49].data == std::string(300, 'a' + 49 % 26));
    std::mt19937 random(7);
    for (int round = 0; round < 20; ++round) REQUIRE(same(decode_sse(input, random_cuts(input.size(), random)), whole));
    std::vector<std::size_t> big_cuts;
    for (std::size_t at = 512; at < input.size(); at += 512) big_cuts.push_back(at);
    CHECK(same(decode_sse(input, big_cuts), whole));
}

TEST_CASE("SSE: a CR at the end of a chunk followed by an empty chunk still pairs with the LF", "[http][sse]") {
    SseDecoder decoder;
    CHECK(decoder.feed("data: a\r").empty());
    CHECK(decoder.feed("").empty());
    CHECK(decoder.feed("\n").empty());  // completes "data: a" CRLF, not a blank line
    const auto events = decoder.feed("\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "a");
}

TEST_CASE("SSE: the callback form gives the same events as the vector form", "[http][sse]") {
    const auto whole = decode_sse(mixed_stream);
    CHECK(same(decode_sse_callback(mixed_stream, {}), whole));
    CHECK(same(decode_sse_callback(mixed_stream, every_byte(mixed_stream.size())), whole));
    std::mt19937 random(4242);
    for (int round = 0; round < 100; ++round)
        REQUIRE(same(decode_sse_callback(mixed_stream, random_cuts(mixed_stream.size(), random)), whole));
}

TEST_CASE("SSE: the size bound counts a line buffered across chunks", "[http][sse]") {
    SseDecoder decoder(32);
    CHECK(decoder.feed("data: " + std::string(20, 'x')).empty());
    CHECK_THROWS_AS(decoder.feed(std::string(20, 'y')), alloy::CommandError);
    SseDecoder exact(16);
    CHECK(exact.feed("data: 0123456789\n\n").size() == 1);  // the line is 16 bytes: at the limit
    CHECK_THROWS_AS(exact.feed("data: 0123456789A\n\n"), alloy::CommandError);
}

TEST_CASE("NDJSON: the callback form, CR split from LF, finish with CR", "[http][ndjson]") {
    NdjsonDecoder decoder;
    std::vector<std::string> lines;
    const auto keep = [&lines](std::string_view line) { lines.emplace_back(line); };
    decoder.feed("{\"a\":1}\r", keep);
    CHECK(lines.empty());
    decoder.feed("\n\t \r\n{\"b\":", keep);
    decoder.feed("2}\n{\"c\":3}\r", keep);
    REQUIRE(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"});
    const auto last = decoder.finish();
    REQUIRE(last);
    CHECK(*last == "{\"c\":3}");
    CHECK_FALSE(decoder.finish());
    NdjsonDecoder blank_tail;
    CHECK(blank_tail.feed(" \r").empty());
    CHECK_FALSE(blank_tail.finish());
}
