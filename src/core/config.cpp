#include <alloy/config.hpp>
#include <alloy/errors.hpp>

#include "core/environment.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <utility>

namespace alloy {
namespace {

template <class T>
void lay(std::optional<T>& lower, const std::optional<T>& upper) {
    if (upper) lower = upper;
}

std::string trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}

[[noreturn]] void bad_env(const char* name, std::string_view value, std::string_view expected) {
    // Values of ALLOY_* variables are settings, not secrets, but keep the echo short all the same.
    std::string shown(value.substr(0, 40));
    if (value.size() > 40) shown += "...";
    throw ConfigurationError(std::string(name) + " must be " + std::string(expected) + ", got '" + shown + "'");
}

std::optional<long long> parse_integer(std::string_view s) {
    long long v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::optional<double> parse_double(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::string tmp(s);
    char* end = nullptr;
    double v = std::strtod(tmp.c_str(), &end);
    if (end != tmp.c_str() + tmp.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

/// "30", "1.5" (seconds), "250ms", "2s", "1m".
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
    double scale = 1000.0;
    if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
        scale = 1.0;
        s.remove_suffix(2);
    } else if (!s.empty() && s.back() == 's') {
        s.remove_suffix(1);
    } else if (!s.empty() && s.back() == 'm') {
        scale = 60000.0;
        s.remove_suffix(1);
    }
    auto v = parse_double(s);
    if (!v || *v < 0) return std::nullopt;
    return std::chrono::milliseconds(static_cast<long long>(std::llround(*v * scale)));
}

std::optional<bool> parse_bool(std::string_view s) {
    std::string lower(s);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "1" || lower == "true" || lower == "yes" || lower == "on") return true;
    if (lower == "0" || lower == "false" || lower == "no" || lower == "off") return false;
    return std::nullopt;
}

struct EnvReader {
    const std::function<const char*(const char*)>& getenv;

    /// The trimmed value, or nullopt when unset or blank (a blank variable counts as unset).
    std::optional<std::string> raw(const char* name) const {
        const char* v = getenv(name);
        if (!v) return std::nullopt;
        std::string t = trim(v);
        if (t.empty()) return std::nullopt;
        return t;
    }
    std::optional<std::string> text(const char* name) const { return raw(name); }
    std::optional<int> integer(const char* name, long long min, long long max) const {
        auto r = raw(name);
        if (!r) return std::nullopt;
        auto v = parse_integer(*r);
        if (!v || *v < min || *v > max)
            bad_env(name, *r, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
        return static_cast<int>(*v);
    }
    std::optional<double> number(const char* name, double min, double max) const {
        auto r = raw(name);
        if (!r) return std::nullopt;
        auto v = parse_double(*r);
        if (!v || *v < min || *v > max) bad_env(name, *r, "a number from " + std::to_string(min) + " to " + std::to_string(max));
        return v;
    }
    std::optional<std::chrono::milliseconds> duration(const char* name) const {
        auto r = raw(name);
        if (!r) return std::nullopt;
        auto v = parse_duration(*r);
        if (!v) bad_env(name, *r, "a duration in seconds (e.g. 30, 1.5) or with a unit (250ms, 2s, 1m)");
        return v;
    }
    std::optional<bool> boolean(const char* name) const {
        auto r = raw(name);
        if (!r) return std::nullopt;
        auto v = parse_bool(*r);
        if (!v) bad_env(name, *r, "a boolean (1/0, true/false, yes/no, on/off)");
        return v;
    }
};

void check_positive(std::chrono::milliseconds d, const char* field) {
    if (d.count() <= 0) throw ConfigurationError(std::string(field) + " must be a positive duration");
}

void check_non_negative(std::chrono::milliseconds d, const char* field) {
    if (d.count() < 0) throw ConfigurationError(std::string(field) + " must not be negative");
}

std::mutex configure_mutex;
Settings& configure_layer() {
    static Settings layer;
    return layer;
}

}  // namespace

RetryPredicate retry_on_kinds(std::initializer_list<ErrorKind> kinds) {
    std::vector<ErrorKind> wanted(kinds);
    return [wanted](const std::exception& e) {
        const auto* ce = dynamic_cast<const CommandError*>(&e);
        return ce && std::find(wanted.begin(), wanted.end(), ce->kind()) != wanted.end();
    };
}

Settings merge(Settings lower, const Settings& upper) {
    lay(lower.model, upper.model);
    lay(lower.provider, upper.provider);
    lay(lower.base_url, upper.base_url);
    lay(lower.api_key, upper.api_key);
    if (upper.tools) lower.tools = upper.tools;
    lay(lower.system, upper.system);
    lay(lower.context, upper.context);
    lay(lower.temperature, upper.temperature);
    lay(lower.timeout, upper.timeout);
    lay(lower.deadline, upper.deadline);
    lay(lower.retry, upper.retry);
    lay(lower.retry_on, upper.retry_on);
    lay(lower.max_tokens, upper.max_tokens);
    lay(lower.max_tool_turns, upper.max_tool_turns);
    lay(lower.auto_finalize_missing_output, upper.auto_finalize_missing_output);
    lay(lower.parallel_tools_max, upper.parallel_tools_max);
    for (const auto& kv : upper.extra) lower.extra[kv.key()] = kv.value();
    lay(lower.backoff_initial, upper.backoff_initial);
    lay(lower.backoff_max, upper.backoff_max);
    lay(lower.retry_after_max, upper.retry_after_max);
    lay(lower.propagate_traceparent, upper.propagate_traceparent);
    auto& lh = lower.http;
    const auto& uh = upper.http;
    lay(lh.resolve_timeout, uh.resolve_timeout);
    lay(lh.connect_timeout, uh.connect_timeout);
    lay(lh.tls_timeout, uh.tls_timeout);
    lay(lh.write_timeout, uh.write_timeout);
    lay(lh.first_byte_timeout, uh.first_byte_timeout);
    lay(lh.stream_idle_timeout, uh.stream_idle_timeout);
    lay(lh.max_response_bytes, uh.max_response_bytes);
    lay(lh.request_retries, uh.request_retries);
    lay(lh.max_connections_per_origin, uh.max_connections_per_origin);
    lay(lh.pool_idle_timeout, uh.pool_idle_timeout);
    lay(lh.ca_file, uh.ca_file);
    lay(lh.insecure_skip_tls_verify, uh.insecure_skip_tls_verify);
    return lower;
}

namespace detail {

// Kept beside merge(): a field added to Settings must be added to both.
bool is_unset(const Settings& s) {
    const auto& h = s.http;
    return !s.model && !s.provider && !s.base_url && !s.api_key && !s.tools && !s.system && !s.context &&
           !s.temperature && !s.timeout && !s.deadline && !s.retry && !s.retry_on && !s.max_tokens &&
           !s.max_tool_turns && !s.auto_finalize_missing_output && !s.parallel_tools_max && s.extra.empty() &&
           !s.backoff_initial && !s.backoff_max && !s.retry_after_max && !s.propagate_traceparent &&
           !h.resolve_timeout && !h.connect_timeout && !h.tls_timeout && !h.write_timeout && !h.first_byte_timeout &&
           !h.stream_idle_timeout && !h.max_response_bytes && !h.request_retries && !h.max_connections_per_origin &&
           !h.pool_idle_timeout && !h.ca_file && !h.insecure_skip_tls_verify;
}

}  // namespace detail

ResolvedSettings resolve(const Settings& s) {
    ResolvedSettings r;
    if (s.model) {
        if (s.model->empty()) throw ConfigurationError("model must not be empty");
        r.model = *s.model;
    }
    if (s.provider) r.provider = *s.provider;
    if (s.base_url) r.base_url = *s.base_url;
    if (s.api_key) r.api_key = *s.api_key;
    if (s.tools) r.tools = *s.tools;
    r.system = s.system;
    r.context = s.context;
    if (s.temperature) {
        if (!std::isfinite(*s.temperature) || *s.temperature < 0)
            throw ConfigurationError("temperature must be a non-negative number");
        r.temperature = s.temperature;
    }
    if (s.timeout) { check_non_negative(*s.timeout, "timeout"); r.timeout = *s.timeout; }
    if (s.deadline) { check_non_negative(*s.deadline, "deadline"); r.deadline = *s.deadline; }
    if (s.retry) {
        if (*s.retry < 1) throw ConfigurationError("retry is the total number of attempts and must be at least 1");
        r.retry = *s.retry;
    }
    if (s.retry_on) r.retry_on = *s.retry_on;
    if (s.max_tokens) {
        if (*s.max_tokens < 1) throw ConfigurationError("max_tokens must be at least 1");
        r.max_tokens = s.max_tokens;
    }
    if (s.max_tool_turns) {
        if (*s.max_tool_turns < 0) throw ConfigurationError("max_tool_turns must not be negative");
        r.max_tool_turns = *s.max_tool_turns;
    }
    if (s.auto_finalize_missing_output) r.auto_finalize_missing_output = *s.auto_finalize_missing_output;
    if (s.parallel_tools_max) {
        if (*s.parallel_tools_max < 1) throw ConfigurationError("parallel_tools_max must be at least 1");
        r.parallel_tools_max = *s.parallel_tools_max;
    }
    r.extra = s.extra;
    if (s.backoff_initial) { check_non_negative(*s.backoff_initial, "backoff_initial"); r.backoff_initial = *s.backoff_initial; }
    if (s.backoff_max) { check_non_negative(*s.backoff_max, "backoff_max"); r.backoff_max = *s.backoff_max; }
    if (s.retry_after_max) { check_non_negative(*s.retry_after_max, "retry_after_max"); r.retry_after_max = *s.retry_after_max; }
    if (s.propagate_traceparent) r.propagate_traceparent = *s.propagate_traceparent;

    const auto& h = s.http;
    auto& rh = r.http;
    auto positive = [](const std::optional<std::chrono::milliseconds>& v, std::chrono::milliseconds& out, const char* name) {
        if (v) { check_positive(*v, name); out = *v; }
    };
    positive(h.resolve_timeout, rh.resolve_timeout, "http.resolve_timeout");
    positive(h.connect_timeout, rh.connect_timeout, "http.connect_timeout");
    positive(h.tls_timeout, rh.tls_timeout, "http.tls_timeout");
    positive(h.write_timeout, rh.write_timeout, "http.write_timeout");
    positive(h.first_byte_timeout, rh.first_byte_timeout, "http.first_byte_timeout");
    positive(h.stream_idle_timeout, rh.stream_idle_timeout, "http.stream_idle_timeout");
    positive(h.pool_idle_timeout, rh.pool_idle_timeout, "http.pool_idle_timeout");
    if (h.max_response_bytes) {
        if (*h.max_response_bytes == 0) throw ConfigurationError("http.max_response_bytes must be positive");
        rh.max_response_bytes = *h.max_response_bytes;
    }
    if (h.request_retries) {
        if (*h.request_retries < 0) throw ConfigurationError("http.request_retries must not be negative");
        rh.request_retries = *h.request_retries;
    }
    if (h.max_connections_per_origin) {
        if (*h.max_connections_per_origin < 1) throw ConfigurationError("http.max_connections_per_origin must be at least 1");
        rh.max_connections_per_origin = *h.max_connections_per_origin;
    }
    if (h.ca_file) rh.ca_file = *h.ca_file;
    if (h.insecure_skip_tls_verify) rh.insecure_skip_tls_verify = *h.insecure_skip_tls_verify;
    return r;
}

Settings settings_from_env(const std::function<const char*(const char*)>& getenv) {
    EnvReader env{getenv};
    Settings s;
    s.model = env.text("ALLOY_MODEL");
    s.temperature = env.number("ALLOY_TEMPERATURE", 0.0, 2.0);
    s.max_tokens = env.integer("ALLOY_MAX_TOKENS", 1, 10'000'000);
    s.system = env.text("ALLOY_DEFAULT_SYSTEM");
    s.retry = env.integer("ALLOY_RETRY", 1, 1000);
    s.max_tool_turns = env.integer("ALLOY_MAX_TOOL_TURNS", 0, 100000);
    s.auto_finalize_missing_output = env.boolean("ALLOY_AUTO_FINALIZE_MISSING_OUTPUT");
    s.parallel_tools_max = env.integer("ALLOY_PARALLEL_TOOLS_MAX", 1, 100000);
    if (auto extra = env.raw("ALLOY_EXTRA_JSON")) {
        boost::system::error_code ec;
        auto v = boost::json::parse(*extra, ec);
        if (ec || !v.is_object()) bad_env("ALLOY_EXTRA_JSON", *extra, "a JSON object");
        s.extra = std::move(v.as_object());
    }
    s.provider = env.text("ALLOY_BACKEND");
    s.base_url = env.text("ALLOY_BASE_URL");
    s.timeout = env.duration("ALLOY_TIMEOUT");
    s.deadline = env.duration("ALLOY_DEADLINE");
    s.http.request_retries = env.integer("ALLOY_REQUEST_RETRIES", 0, 100);
    s.http.connect_timeout = env.duration("ALLOY_CONNECT_TIMEOUT");
    s.http.first_byte_timeout = env.duration("ALLOY_FIRST_BYTE_TIMEOUT");
    s.http.stream_idle_timeout = env.duration("ALLOY_STREAM_IDLE_TIMEOUT");
    if (auto v = env.integer("ALLOY_MAX_RESPONSE_BYTES", 1, std::numeric_limits<int>::max()))
        s.http.max_response_bytes = static_cast<std::size_t>(*v);
    s.http.ca_file = env.text("ALLOY_CA_FILE");
    return s;
}

Settings settings_from_env() {
    return settings_from_env([](const char* name) { return std::getenv(name); });
}

void configure(Settings settings) {
    {
        std::lock_guard lock(configure_mutex);
        configure_layer() = std::move(settings);
    }
    detail::bump_settings_generation();
}

Settings configured() {
    std::lock_guard lock(configure_mutex);
    return configure_layer();
}

}  // namespace alloy
