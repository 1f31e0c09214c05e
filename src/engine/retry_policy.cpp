#include "engine/retry_policy.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

namespace alloy::retry {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// Parses a non-negative decimal number ("12", "1.5", ".25"); std::nullopt for anything else.
std::optional<double> parse_non_negative_decimal(std::string_view s) {
    s = trim(s);
    if (s.empty() || s.size() > 32) return std::nullopt;
    bool seen_digit = false;
    bool seen_dot = false;
    for (char c : s) {
        if (c >= '0' && c <= '9') {
            seen_digit = true;
        } else if (c == '.' && !seen_dot) {
            seen_dot = true;
        } else {
            return std::nullopt;
        }
    }
    if (!seen_digit) return std::nullopt;
    // std::from_chars for double is available in libstdc++ 11+.
    double value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
    return value;
}

std::chrono::milliseconds to_millis(double value_ms) {
    // Bound absurd values so the conversion cannot overflow; callers cap the delay anyway.
    constexpr double max_ms = 1e15;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(std::min(value_ms, max_ms))));
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<int> month_index(std::string_view name) {
    static constexpr std::array<std::string_view, 12> months{"jan", "feb", "mar", "apr", "may", "jun",
                                                             "jul", "aug", "sep", "oct", "nov", "dec"};
    for (std::size_t i = 0; i < months.size(); ++i) {
        if (iequals(months[i], name)) return static_cast<int>(i) + 1;
    }
    return std::nullopt;
}

std::optional<int> parse_int(std::string_view s) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
    return value;
}

// Parses an HTTP-date in IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") or RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") form.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
    s = trim(s);
    const auto comma = s.find(',');
    if (comma == std::string_view::npos) return std::nullopt;
    std::string_view rest = trim(s.substr(comma + 1));
    std::string_view date;
    std::string_view time;
    std::string_view zone;
    const auto sp1 = rest.find(' ');
    if (sp1 == std::string_view::npos) return std::nullopt;
    std::optional<int> day;
    std::optional<int> month;
    std::optional<int> year;
    if (rest.find('-') < sp1) {  // RFC 850: 06-Nov-94
        date = rest.substr(0, sp1);
        const auto d1 = date.find('-');
        const auto d2 = date.find('-', d1 + 1);
        if (d2 == std::string_view::npos) return std::nullopt;
        day = parse_int(date.substr(0, d1));
        month = month_index(date.substr(d1 + 1, d2 - d1 - 1));
        year = parse_int(date.substr(d2 + 1));
        if (year && *year < 100) *year += *year < 70 ? 2000 : 1900;
        rest = trim(rest.substr(sp1 + 1));
    } else {  // IMF-fixdate: 06 Nov 1994
        const auto sp2 = rest.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) return std::nullopt;
        const auto sp3 = rest.find(' ', sp2 + 1);
        if (sp3 == std::string_view::npos) return std::nullopt;
        day = parse_int(rest.substr(0, sp1));
        month = month_index(rest.substr(sp1 + 1, sp2 - sp1 - 1));
        year = parse_int(rest.substr(sp2 + 1, sp3 - sp2 - 1));
        rest = trim(rest.substr(sp3 + 1));
    }
    const auto sp = rest.find(' ');
    time = rest.substr(0, sp);
    zone = sp == std::string_view::npos ? std::string_view{} : trim(rest.substr(sp + 1));
    if (!zone.empty() && !iequals(zone, "GMT") && !iequals(zone, "UTC")) return std::nullopt;
    if (time.size() != 8 || time[2] != ':' || time[5] != ':') return std::nullopt;
    const auto hh = parse_int(time.substr(0, 2));
    const auto mm = parse_int(time.substr(3, 2));
    const auto ss = parse_int(time.substr(6, 2));
    if (!day || !month || !year || !hh || !mm || !ss) return std::nullopt;
    if (*day < 1 || *day > 31 || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
    const std::int64_t days = days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
    const std::int64_t seconds = days * 86400 + *hh * 3600 + *mm * 60 + *ss;
    return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

}  // namespace

bool is_retryable_status(int status, std::string_view error_code, std::string_view error_type) {
    // Permanent failures reported with an otherwise transient status (quota exhausted, spend limit).
    for (std::string_view permanent : {"insufficient_quota", "enforced_spend_limit_reached"}) {
        if (iequals(error_code, permanent) || iequals(error_type, permanent)) return false;
    }
    switch (status) {
    case 408: case 409: case 429: case 500: case 502: case 503: case 504: case 529: return true;
    default: return false;
    }
}

bool apply_should_retry_header(bool verdict, std::optional<std::string_view> header) {
    if (!header) return verdict;
    const std::string_view value = trim(*header);
    if (iequals(value, "true")) return true;
    if (iequals(value, "false")) return false;
    return verdict;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::optional<std::string_view> retry_after_ms,
                                                           std::optional<std::string_view> retry_after,
                                                           std::chrono::system_clock::time_point now) {
    if (retry_after_ms) {
        if (auto ms = parse_non_negative_decimal(*retry_after_ms)) return to_millis(*ms);
    }
    if (!retry_after) return std::nullopt;
    if (auto seconds = parse_non_negative_decimal(*retry_after)) return to_millis(*seconds * 1000.0);
    if (auto when = parse_http_date(*retry_after)) {
        const auto delta = std::chrono::duration_cast<std::chrono::milliseconds>(*when - now);
        return std::max(delta, std::chrono::milliseconds(0));
    }
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_google_duration(std::string_view text) {
    text = trim(text);
    if (text.size() < 2 || (text.back() != 's' && text.back() != 'S')) return std::nullopt;
    text.remove_suffix(1);
    auto seconds = parse_non_negative_decimal(text);
    if (!seconds) return std::nullopt;
    return to_millis(*seconds * 1000.0);
}

std::chrono::milliseconds backoff_delay(int retry_index, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds cap,
                                        std::optional<std::chrono::milliseconds> retry_after,
                                        std::chrono::milliseconds retry_after_max, std::mt19937_64& rng) {
    using std::chrono::milliseconds;
    if (retry_after) {
        return std::clamp(*retry_after, milliseconds(0), std::max(retry_after_max, milliseconds(0)));
    }
    const std::int64_t cap_ms = std::max<std::int64_t>(cap.count(), 0);
    std::int64_t bound = std::max<std::int64_t>(initial.count(), 0);
    // Double up to the cap; stops early so large retry indices cannot overflow.
    for (int i = 0; i < retry_index && bound < cap_ms; ++i) bound *= 2;
    bound = std::min(bound, cap_ms);
    std::uniform_int_distribution<std::int64_t> draw(0, bound);
    return milliseconds(draw(rng));
}

bool default_command_retry(const std::exception& error) {
    if (dynamic_cast<const ConfigurationError*>(&error) != nullptr) return false;
    if (const auto* command = dynamic_cast<const CommandError*>(&error)) {
        return command->kind() != ErrorKind::cancelled;
    }
    if (const auto* system = dynamic_cast<const boost::system::system_error*>(&error)) {
        return system->code() != boost::asio::error::operation_aborted;
    }
    return true;
}

}  // namespace alloy::retry
