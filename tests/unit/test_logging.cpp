// JSON event log, redaction and the log hook.
#include <alloy/logging.hpp>
#include <alloy/logging_spdlog.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

using namespace alloy;
using namespace std::chrono_literals;

namespace {

/// Collects the lines a JsonLogObserver writes.
struct Lines {
    std::mutex mutex;
    std::vector<std::pair<LogLevel, std::string>> lines;
    LogSink sink() {
        return [this](LogLevel level, std::string_view line) {
            std::lock_guard lock(mutex);
            lines.emplace_back(level, std::string(line));
        };
    }
};

Event sample_end() {
    Event e;
    e.type = EventType::command_end;
    e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1735787045678));  // 2025-01-02T03:04:05.678Z
    e.run_id = "run-1";
    e.trace_id = "0af7651916cd43dd8448eb211c80319c";
    e.span_id = "b7ad6b7169203331";
    e.command = "extract_invoice";
    e.model = "gpt-5-mini";
    e.provider = "openai";
    e.attempt = 2;
    e.outcome = "ok";
    e.duration = 1234567us;
    e.http_status = 200;
    e.request_id = "req_123";
    e.bytes_sent = 321;
    e.bytes_received = 654;
    e.usage = Usage{10, 20, 3, 4};
    e.finish_reason = "stop";
    e.chunks = 7;
    return e;
}

boost::json::object parse_line(const std::string& line) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    INFO(line);
    REQUIRE_FALSE(ec);
    REQUIRE(value.is_object());
    return value.as_object();
}

}  // namespace

TEST_CASE("json log: one object per event with every non-empty field", "[observe]") {
    JsonLogObserver observer({}, [](LogLevel, std::string_view) {});
    const auto line = observer.format(sample_end());
    CHECK(line.find('\n') == std::string::npos);
    const auto o = parse_line(line);
    CHECK(o.at("ts") == "2025-01-02T03:04:05.678Z");
    CHECK(o.at("level") == "info");
    CHECK(o.at("event") == "command_end");
    CHECK(o.at("run_id") == "run-1");
    CHECK(o.at("trace_id") == "0af7651916cd43dd8448eb211c80319c");
    CHECK(o.at("span_id") == "b7ad6b7169203331");
    CHECK(o.at("command") == "extract_invoice");
    CHECK(o.at("model") == "gpt-5-mini");
    CHECK(o.at("provider") == "openai");
    CHECK(o.at("attempt") == 2);
    CHECK(o.at("outcome") == "ok");
    CHECK(o.at("duration_ms").as_double() == Approx(1234.567));
    CHECK(o.at("http_status") == 200);
    CHECK(o.at("request_id") == "req_123");
    CHECK(o.at("bytes_sent") == 321);
    CHECK(o.at("bytes_received") == 654);
    const auto& usage = o.at("usage").as_object();
    CHECK(usage.at("input") == 10);
    CHECK(usage.at("output") == 20);
    CHECK(usage.at("cached") == 3);
    CHECK(usage.at("reasoning") == 4);
    CHECK(o.at("finish_reason") == "stop");
    CHECK(o.at("chunks") == 7);
    // Empty fields are left out.
    for (const char* absent : {"parent_span_id", "error_kind", "error", "delay_ms", "retry_level", "reason", "tool",
                               "tool_call_id", "contract", "content"})
        CHECK_FALSE(o.contains(absent));
}

TEST_CASE("json log: errors, retries and tool fields", "[observe]") {
    JsonLogObserver observer({}, [](LogLevel, std::string_view) {});
    Event retry;
    retry.type = EventType::retry_scheduled;
    retry.delay = 750ms;
    retry.retry_level = "request";
    retry.reason = "HTTP 429 rate limited";
    auto o = parse_line(observer.format(retry));
    CHECK(o.at("level") == "warn");
    CHECK(o.at("delay_ms") == 750);
    CHECK(o.at("retry_level") == "request");
    CHECK(o.at("reason") == "HTTP 429 rate limited");

    Event failed = sample_end();
    failed.outcome = "error";
    failed.error_kind = ErrorKind::timeout;
    failed.error_message = "attempt timed out";
    o = parse_line(observer.format(failed));
    CHECK(o.at("level") == "error");
    CHECK(o.at("error_kind") == "timeout");
    CHECK(o.at("error") == "attempt timed out");

    Event tool;
    tool.type = EventType::tool_end;
    tool.tool = "add";
    tool.tool_call_id = "call_1";
    tool.outcome = "error";
    tool.contract = "b must be non-negative";
    o = parse_line(observer.format(tool));
    CHECK(o.at("level") == "warn");
    CHECK(o.at("tool") == "add");
    CHECK(o.at("tool_call_id") == "call_1");
    CHECK(o.at("contract") == "b must be non-negative");

    Event request;
    request.type = EventType::request_end;
    request.outcome = "ok";
    CHECK(JsonLogObserver::level_of(request) == LogLevel::debug);
    request.http_status = 503;
    CHECK(JsonLogObserver::level_of(request) == LogLevel::warn);
    Event start;
    start.type = EventType::command_start;
    CHECK(JsonLogObserver::level_of(start) == LogLevel::info);
}

TEST_CASE("json log: every line is valid JSON whatever the content", "[observe]") {
    JsonLogOptions options;
    options.log_content = true;
    options.level = LogLevel::trace;
    Lines out;
    JsonLogObserver observer(options, out.sink());

    std::string control;
    for (int c = 0; c < 32; ++c) control.push_back(static_cast<char>(c));
    const std::vector<std::string> hostile = {
        "quote \" backslash \\ newline \n tab \t end",
        control,
        std::string("invalid utf-8: \xC3\x28 \xFF\xFE \xE2\x82 \xF0\x9F\x98 \xED\xA0\x80 \xC0\xAF"),
        "{\"unterminated\": \"json",
        "\xF0\x9F\x98\x80 emoji and \xC3\xA9 accents stay",
        std::string(1, '\0') + "nul inside",
        "}{][\"\\u0000",
    };
    for (const auto& text : hostile) {
        Event e = sample_end();
        e.content = text;
        e.reason = text;
        e.error_message = text;
        e.command = text;
        observer.on_event(e);
    }
    REQUIRE(out.lines.size() == hostile.size());
    for (const auto& [level, line] : out.lines) {
        CHECK(line.find('\n') == std::string::npos);
        const auto o = parse_line(line);  // Boost.JSON validates UTF-8
        CHECK(o.contains("content"));
    }
    // Invalid bytes became U+FFFD; valid multi-byte characters survived.
    const auto third = parse_line(out.lines[2].second);
    CHECK(std::string(third.at("content").as_string()).find("\xEF\xBF\xBD") != std::string::npos);
    const auto fifth = parse_line(out.lines[4].second);
    CHECK(std::string(fifth.at("content").as_string()) == "\xF0\x9F\x98\x80 emoji and \xC3\xA9 accents stay");
}

TEST_CASE("sanitize_utf8 replaces exactly the invalid bytes", "[observe]") {
    CHECK(sanitize_utf8("plain") == "plain");
    CHECK(sanitize_utf8("\xC3\xA9") == "\xC3\xA9");
    CHECK(sanitize_utf8("a\xFF" "b") == "a\xEF\xBF\xBD" "b");
    CHECK(sanitize_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");          // overlong '/'
    CHECK(sanitize_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    CHECK(sanitize_utf8("\xF4\x90\x80\x80").find("\xF4\x90") == std::string::npos);  // above U+10FFFF
    CHECK(sanitize_utf8("x\xE2\x82") == "x\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated at the end
}

TEST_CASE("json log: level filtering happens before formatting", "[observe]") {
    Lines out;
    JsonLogObserver observer({}, out.sink());  // default level info
    Event request;
    request.type = EventType::request_start;
    observer.on_event(request);  // debug: skipped
    Event start;
    start.type = EventType::command_start;
    observer.on_event(start);
    Event retry;
    retry.type = EventType::retry_scheduled;
    observer.on_event(retry);
    REQUIRE(out.lines.size() == 2);
    CHECK(out.lines[0].first == LogLevel::info);
    CHECK(parse_line(out.lines[0].second).at("event") == "command_start");
    CHECK(out.lines[1].first == LogLevel::warn);

    JsonLogOptions warn_only;
    warn_only.level = LogLevel::warn;
    Lines warn_out;
    JsonLogObserver warn_observer(warn_only, warn_out.sink());
    warn_observer.on_event(start);
    warn_observer.on_event(retry);
    CHECK(warn_out.lines.size() == 1);

    JsonLogOptions off;
    off.level = LogLevel::off;
    Lines off_out;
    JsonLogObserver off_observer(off, off_out.sink());
    Event failed = sample_end();
    failed.outcome = "error";
    off_observer.on_event(failed);
    CHECK(off_out.lines.empty());
}

TEST_CASE("json log: content is dropped unless log_content", "[observe]") {
    Event e = sample_end();
    e.content = "the prompt text";
    JsonLogObserver quiet({}, [](LogLevel, std::string_view) {});
    CHECK_FALSE(parse_line(quiet.format(e)).contains("content"));
    CHECK(quiet.format(e).find("the prompt text") == std::string::npos);

    JsonLogOptions options;
    options.log_content = true;
    JsonLogObserver loud(options, [](LogLevel, std::string_view) {});
    CHECK(parse_line(loud.format(e)).at("content") == "the prompt text");
}

TEST_CASE("json log: configured fields are masked at any depth of JSON content", "[observe]") {
    JsonLogOptions options;
    options.log_content = true;
    JsonLogObserver observer(options, [](LogLevel, std::string_view) {});
    Event e = sample_end();
    e.content = R"({"user":{"name":"Ada","Password":"hunter2","profile":[{"EMAIL":"ada@example.com","x-api-key":"k-123"}]},)"
                R"("access_token":{"nested":"tok-999"},"max_tokens":512,"note":"mail me at bob@example.org"})";
    const auto o = parse_line(observer.format(e));
    const std::string content(o.at("content").as_string());
    const auto masked = boost::json::parse(content).as_object();
    const auto& user = masked.at("user").as_object();
    CHECK(user.at("name") == "Ada");
    CHECK(user.at("Password") == "***");
    CHECK(user.at("profile").as_array()[0].as_object().at("EMAIL") == "***");
    CHECK(user.at("profile").as_array()[0].as_object().at("x-api-key") == "***");
    CHECK(masked.at("access_token") == "***");  // a suffix match; the whole object is replaced
    CHECK(masked.at("max_tokens") == 512);      // "tokens" is not "token"
    CHECK(masked.at("note") == "mail me at ***");
    for (const char* secret : {"hunter2", "ada@example.com", "k-123", "tok-999", "bob@example.org"})
        CHECK(content.find(secret) == std::string::npos);
}

TEST_CASE("json log: patterns and pairs are masked in text", "[observe]") {
    JsonLogOptions options;
    options.log_content = true;
    options.redact_patterns = {R"(ORDER-\d{4})"};
    options.mask = "[redacted]";
    JsonLogObserver observer(options, [](LogLevel, std::string_view) {});
    Event e = sample_end();
    e.content = "card 4111 1111 1111 1111, alt 5500-0000-0000-0004, raw 4012888888881881; "
                "mail carol@example.co.uk; password=swordfish; token: abc123; order ORDER-1234; "
                "small numbers 12345 and 2025-01-02 stay";
    const std::string content(parse_line(observer.format(e)).at("content").as_string());
    for (const char* secret : {"4111 1111", "5500-0000", "4012888888881881", "carol@example.co.uk", "swordfish",
                               "abc123", "ORDER-1234"})
        CHECK(content.find(secret) == std::string::npos);
    CHECK(content.find("password=[redacted]") != std::string::npos);
    CHECK(content.find("small numbers 12345 and 2025-01-02 stay") != std::string::npos);
}

TEST_CASE("credential shapes never reach a log line, whatever the options", "[observe]") {
    JsonLogOptions options;
    options.log_content = true;
    options.redact_fields = {};
    options.redact_patterns = {};
    options.redact_emails = false;
    options.redact_card_numbers = false;
    JsonLogObserver observer(options, [](LogLevel, std::string_view) {});

    const std::vector<std::string> secrets = {
        "sk-proj-abcdefghijklmnop1234",
        "sk-ant-api03-ZYXWVUTSRQ_ponmlk-9876",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv",
        "eyJhbGciOiJIUzI1NiJ9.payload.signature",
        "xk-header-secret-42",
        "dXNlcjpwYXNzd29yZA==",
    };
    const std::string text = "key " + secrets[0] + " and " + secrets[1] + ", google " + secrets[2] +
                             "; Authorization: Bearer " + secrets[3] + "; x-api-key: " + secrets[4] +
                             "; Proxy-Authorization: Basic " + secrets[5];
    Event e = sample_end();
    e.reason = text;
    e.error_message = text;
    e.content = text;
    e.contract = text;
    e.request_id = secrets[0];
    const std::string line = observer.format(e);
    parse_line(line);
    for (const auto& secret : secrets) {
        INFO(secret);
        CHECK(line.find(secret) == std::string::npos);
    }
    CHECK(line.find("x-api-key: ***") != std::string::npos);

    // JSON content too, in values of unconfigured fields.
    e.content = R"({"headers":{"x-api-key":"xk-header-secret-42","note":"sk-proj-abcdefghijklmnop1234"}})";
    const std::string json_line = observer.format(e);
    CHECK(json_line.find("xk-header-secret-42") == std::string::npos);
    CHECK(json_line.find("sk-proj-abcdefghijklmnop1234") == std::string::npos);
}

TEST_CASE("redactor: mask_json and mask_text are reusable on their own", "[observe]") {
    Redactor redactor(RedactionOptions{.fields = {"ssn"}, .patterns = {}, .emails = true, .card_numbers = true, .mask = "#"});
    CHECK(redactor.is_sensitive_field("SSN"));
    CHECK(redactor.is_sensitive_field("customer_ssn"));
    CHECK(redactor.is_sensitive_field("X-Api-Key"));  // always
    CHECK_FALSE(redactor.is_sensitive_field("name"));
    auto v = boost::json::parse(R"([{"ssn":123},{"list":[{"Ssn":"x"}]},"ssn: 999-99-9999"])");
    redactor.mask_json(v);
    CHECK(boost::json::serialize(v) == R"([{"ssn":"#"},{"list":[{"Ssn":"#"}]},"ssn: #"])");
    CHECK(redactor.mask_text("hello") == "hello");
    CHECK(redactor.mask_credentials("ssn: 1 and sk-abcdefghijkl") == "ssn: 1 and #");
    CHECK_THROWS_AS(Redactor(RedactionOptions{.fields = {}, .patterns = {"(unclosed"}, .emails = true,
                                              .card_numbers = true, .mask = "*"}),
                    ConfigurationError);
}

TEST_CASE("redactor: linear on long hostile input", "[observe]") {
    // std::regex would take seconds and overflow the stack on these; the built-in detectors must not.
    Redactor redactor;
    const std::string letters(200000, 'a');
    const std::string digits(200000, '1');
    std::string at_signs;
    for (int i = 0; i < 50000; ++i) at_signs += "a@b";
    // Only the masking is timed: Catch's rendering of 200 kB operands (with --success) is not.
    const auto start = std::chrono::steady_clock::now();
    const std::string masked_letters = redactor.mask_text(letters);
    const std::string masked_digits = redactor.mask_text(digits);
    const std::string masked_at_signs = redactor.mask_text(at_signs);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(masked_letters == letters);
    CHECK(masked_digits == digits);  // one unseparated 200000-digit run is not a card
    CHECK_FALSE(masked_at_signs.empty());
    CHECK(elapsed < 10s);  // generous (sanitizer builds included): linear work on 0.35 MB
}

TEST_CASE("log hook: routing, level check before formatting, restore", "[observe]") {
    std::vector<std::pair<LogLevel, std::string>> seen;
    set_log_handler(LogLevel::warn, [&](LogLevel level, std::string_view line) { seen.emplace_back(level, line); });
    int formatted = 0;
    log_lazy(LogLevel::info, [&] {
        ++formatted;
        return std::string("not wanted");
    });
    log_lazy(LogLevel::error, [&] {
        ++formatted;
        return std::string("wanted");
    });
    alloy::log(LogLevel::warn, "direct");
    CHECK(formatted == 1);
    CHECK_FALSE(log_enabled(LogLevel::debug));
    CHECK(log_enabled(LogLevel::error));
    CHECK_FALSE(log_enabled(LogLevel::off));

    // An event log routed through the hook.
    JsonLogOptions options;
    options.level = LogLevel::trace;
    auto observer = json_log_observer(options, log_handler_sink());
    Event failed = sample_end();
    failed.outcome = "error";
    observer->on_event(failed);  // error: passes the hook's warn minimum
    Event start;
    start.type = EventType::command_start;
    observer->on_event(start);  // info: stopped by the hook
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == std::pair{LogLevel::error, std::string("wanted")});
    CHECK(seen[1] == std::pair{LogLevel::warn, std::string("direct")});
    CHECK(seen[2].first == LogLevel::error);
    CHECK(parse_line(seen[2].second).at("event") == "command_end");

    set_log_handler(LogLevel::off, [&](LogLevel, std::string_view) { FAIL("off must not log"); });
    alloy::log(LogLevel::error, "nothing");
    set_log_handler(LogLevel::info, nullptr);  // the spdlog default again
    CHECK(log_enabled(LogLevel::info));
    CHECK(seen.size() == 3);
}

TEST_CASE("json log: FILE target writes whole lines", "[observe]") {
    std::FILE* file = std::tmpfile();
    REQUIRE(file);
    auto observer = json_log_observer(JsonLogOptions{}, file);
    observer->on_event(sample_end());
    observer->on_event(sample_end());
    std::rewind(file);
    char buffer[4096];
    std::vector<std::string> lines;
    while (std::fgets(buffer, sizeof buffer, file)) lines.emplace_back(buffer);
    std::fclose(file);
    REQUIRE(lines.size() == 2);
    for (auto& line : lines) {
        REQUIRE(line.back() == '\n');
        line.pop_back();
        CHECK(parse_line(line).at("event") == "command_end");
    }
}

TEST_CASE("json log: an spdlog sink gets pure JSON lines", "[observe]") {
    std::ostringstream stream;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream);
    auto observer = json_log_observer(JsonLogOptions{}, sink);
    observer->on_event(sample_end());
    Event debug_only;
    debug_only.type = EventType::tool_start;
    observer->on_event(debug_only);  // below info: nothing
    std::string text = stream.str();
    REQUIRE_FALSE(text.empty());
    REQUIRE(text.back() == '\n');
    text.pop_back();
    CHECK(text.find('\n') == std::string::npos);
    CHECK(parse_line(text).at("event") == "command_end");
}
