// The single retry classifier and the backoff rule, shared by the transport-level retries and the
// command-level `retry`. Pure functions: no I/O, no clocks. Internal header.
#pragma once

#include <alloy/errors.hpp>

#include <chrono>
#include <optional>
#include <random>
#include <string_view>

namespace alloy::retry {

/// True for HTTP statuses worth retrying: 408, 409, 429, 500, 502, 503, 504, 529 — unless the provider
/// error code says the failure is permanent (OpenAI `insufficient_quota`, Anthropic
/// `enforced_spend_limit_reached`, OpenRouter 402 which is never in the list anyway).
bool is_retryable_status(int status, std::string_view error_code = {}, std::string_view error_type = {});

/// Applies an `x-should-retry` header value ("true"/"false") over a verdict, as the official SDKs do.
bool apply_should_retry_header(bool verdict, std::optional<std::string_view> header);

/// Parses a server-directed delay from `retry-after-ms` (milliseconds), then `retry-after` (seconds,
/// fractional allowed, or an HTTP-date relative to `now`). Returns std::nullopt when absent or invalid.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::optional<std::string_view> retry_after_ms, std::optional<std::string_view> retry_after,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// Parses a Google `RetryInfo.retryDelay` duration string such as "37s" or "1.5s".
std::optional<std::chrono::milliseconds> parse_google_duration(std::string_view text);

/// Delay before retry number `retry_index` (0 for the first retry): exponential backoff with full
/// jitter, `uniform(0, min(cap, initial * 2^retry_index))`. A server-directed `retry_after` wins when
/// present, capped at `retry_after_max`.
std::chrono::milliseconds backoff_delay(int retry_index, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds cap,
                                        std::optional<std::chrono::milliseconds> retry_after,
                                        std::chrono::milliseconds retry_after_max, std::mt19937_64& rng);

/// Whether a failed attempt (the exception it threw) is retried when no `retry_on` is set: every failure
/// except ConfigurationError and cancellation.
bool default_command_retry(const std::exception& error);

}  // namespace alloy::retry
