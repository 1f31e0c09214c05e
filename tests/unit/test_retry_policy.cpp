#include "engine/retry_policy.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>

using namespace std::chrono_literals;
using alloy::retry::apply_should_retry_header;
using alloy::retry::backoff_delay;
using alloy::retry::default_command_retry;
using alloy::retry::is_retryable_status;
using alloy::retry::parse_google_duration;
using alloy::retry::parse_retry_after;

TEST_CASE("retryable statuses follow the recommended list", "[retry]") {
    for (int status : {408, 409, 429, 500, 502, 503, 504, 529}) {
        INFO(status);
        CHECK(is_retryable_status(status));
    }
    for (int status : {200, 400, 401, 402, 403, 404, 413, 422, 501}) {
        INFO(status);
        CHECK_FALSE(is_retryable_status(status));
    }
}

TEST_CASE("permanent provider error codes are never retried", "[retry]") {
    CHECK_FALSE(is_retryable_status(429, "insufficient_quota"));
    CHECK_FALSE(is_retryable_status(429, "INSUFFICIENT_QUOTA"));
    CHECK_FALSE(is_retryable_status(429, "", "insufficient_quota"));
    CHECK_FALSE(is_retryable_status(429, "enforced_spend_limit_reached", "rate_limit_error"));
    CHECK(is_retryable_status(429, "rate_limit_exceeded", "requests"));
    CHECK(is_retryable_status(529, "", "overloaded_error"));
}

TEST_CASE("x-should-retry overrides the verdict", "[retry]") {
    CHECK(apply_should_retry_header(false, std::string_view("true")));
    CHECK_FALSE(apply_should_retry_header(true, std::string_view("false")));
    CHECK(apply_should_retry_header(false, std::string_view(" TRUE ")));
    CHECK(apply_should_retry_header(true, std::nullopt));
    CHECK_FALSE(apply_should_retry_header(false, std::nullopt));
    CHECK(apply_should_retry_header(true, std::string_view("maybe")));
}

TEST_CASE("retry-after-ms wins over retry-after", "[retry]") {
    CHECK(parse_retry_after(std::string_view("250"), std::string_view("7")) == 250ms);
    CHECK(parse_retry_after(std::string_view("12.6"), std::nullopt) == 13ms);
    // An invalid retry-after-ms falls back to retry-after.
    CHECK(parse_retry_after(std::string_view("soon"), std::string_view("2")) == 2000ms);
}

TEST_CASE("retry-after in seconds, fractional seconds, and invalid values", "[retry]") {
    CHECK(parse_retry_after(std::nullopt, std::string_view("3")) == 3000ms);
    CHECK(parse_retry_after(std::nullopt, std::string_view("1.5")) == 1500ms);
    CHECK(parse_retry_after(std::nullopt, std::string_view("0")) == 0ms);
    CHECK_FALSE(parse_retry_after(std::nullopt, std::string_view("-3")));
    CHECK_FALSE(parse_retry_after(std::nullopt, std::string_view("")));
    CHECK_FALSE(parse_retry_after(std::nullopt, std::string_view("abc")));
    CHECK_FALSE(parse_retry_after(std::nullopt, std::nullopt));
}

TEST_CASE("retry-after as an HTTP-date is relative to now", "[retry]") {
    // 1994-11-06 08:49:37 UTC == 784111777 s since the epoch.
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(784111777 - 30));
    CHECK(parse_retry_after(std::nullopt, std::string_view("Sun, 06 Nov 1994 08:49:37 GMT"), now) == 30000ms);
    CHECK(parse_retry_after(std::nullopt, std::string_view("Sunday, 06-Nov-94 08:49:37 GMT"), now) == 30000ms);
    // A date in the past means "now".
    const auto later = now + std::chrono::hours(1);
    CHECK(parse_retry_after(std::nullopt, std::string_view("Sun, 06 Nov 1994 08:49:37 GMT"), later) == 0ms);
    CHECK_FALSE(parse_retry_after(std::nullopt, std::string_view("Sun, 06 Foo 1994 08:49:37 GMT"), now));
    CHECK_FALSE(parse_retry_after(std::nullopt, std::string_view("Sun, 06 Nov 1994 08:49 GMT"), now));
}

TEST_CASE("Google duration strings", "[retry]") {
    CHECK(parse_google_duration("37s") == 37000ms);
    CHECK(parse_google_duration("1.5s") == 1500ms);
    CHECK(parse_google_duration("0.250s") == 250ms);
    CHECK_FALSE(parse_google_duration("37"));
    CHECK_FALSE(parse_google_duration("s"));
    CHECK_FALSE(parse_google_duration("-1s"));
    CHECK_FALSE(parse_google_duration("1.2.3s"));
}

TEST_CASE("full-jitter backoff stays within its bounds and uses the whole range", "[retry]") {
    std::mt19937_64 rng(12345);
    for (int retry_index = 0; retry_index < 8; ++retry_index) {
        const auto bound = std::min<std::int64_t>(500LL << retry_index, 8000);
        std::int64_t lowest = bound;
        std::int64_t highest = 0;
        for (int i = 0; i < 2000; ++i) {
            const auto d = backoff_delay(retry_index, 500ms, 8000ms, std::nullopt, 60000ms, rng).count();
            REQUIRE(d >= 0);
            REQUIRE(d <= bound);
            lowest = std::min(lowest, d);
            highest = std::max(highest, d);
        }
        INFO("retry " << retry_index << " bound " << bound);
        // Full jitter: draws spread over [0, bound], not clustered near the top.
        CHECK(lowest < bound / 10);
        CHECK(highest > bound * 9 / 10);
    }
    // Huge retry indices neither overflow nor exceed the cap.
    for (int i = 0; i < 100; ++i) {
        const auto d = backoff_delay(1000, 500ms, 8000ms, std::nullopt, 60000ms, rng);
        REQUIRE(d >= 0ms);
        REQUIRE(d <= 8000ms);
    }
}

TEST_CASE("backoff is deterministic for a given seed", "[retry]") {
    std::mt19937_64 a(7);
    std::mt19937_64 b(7);
    for (int i = 0; i < 20; ++i) {
        CHECK(backoff_delay(i % 5, 100ms, 5000ms, std::nullopt, 60000ms, a) ==
              backoff_delay(i % 5, 100ms, 5000ms, std::nullopt, 60000ms, b));
    }
}

TEST_CASE("a server-directed delay wins and is capped", "[retry]") {
    std::mt19937_64 rng(1);
    CHECK(backoff_delay(0, 500ms, 8000ms, 1234ms, 60000ms, rng) == 1234ms);
    CHECK(backoff_delay(3, 500ms, 8000ms, 20000ms, 60000ms, rng) == 20000ms);  // beyond backoff cap is fine
    CHECK(backoff_delay(0, 500ms, 8000ms, 120000ms, 60000ms, rng) == 60000ms);
    CHECK(backoff_delay(0, 500ms, 8000ms, 0ms, 60000ms, rng) == 0ms);
}

TEST_CASE("default command retry skips configuration errors and cancellation", "[retry]") {
    using alloy::CommandError;
    using alloy::ErrorKind;
    CHECK_FALSE(default_command_retry(alloy::ConfigurationError("bad model")));
    CHECK_FALSE(default_command_retry(CommandError(ErrorKind::cancelled, "cancelled")));
    CHECK_FALSE(default_command_retry(boost::system::system_error(boost::asio::error::operation_aborted)));
    CHECK(default_command_retry(CommandError(ErrorKind::timeout, "timed out")));
    CHECK(default_command_retry(CommandError(ErrorKind::output_parse, "bad json")));
    CHECK(default_command_retry(CommandError(ErrorKind::provider_status, "HTTP 400")));
    CHECK(default_command_retry(boost::system::system_error(boost::asio::error::connection_reset)));
    CHECK(default_command_retry(std::runtime_error("tool threw")));
    CHECK(default_command_retry(alloy::ToolError("add", "contract failed")));
}
