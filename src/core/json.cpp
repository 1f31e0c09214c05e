#include <alloy/json.hpp>

#include <boost/json/serialize.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <string_view>

namespace alloy {
namespace {

constexpr std::size_t got_snippet_chars = 60;

std::string describe_value(const boost::json::value& v) {
    return snippet(boost::json::serialize(v), got_snippet_chars);
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

bool is_identifier(std::string_view s) noexcept {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front()))) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

/// A number written in a string, as from_json's numeric coercion sees it.
struct ParsedNumber {
    enum class Kind { none, negative, non_negative, floating } kind = Kind::none;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
};

template <class N>
bool parse_all(std::string_view s, N& out) noexcept {
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && ptr == end;
}

ParsedNumber parse_number_text(std::string_view text) noexcept {
    ParsedNumber r;
    std::string_view s = trim(text);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return r;
    // from_chars also reads "inf" and "nan"; JSON numbers never spell those.
    for (char c : s)
        if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == 'e' || c == 'E' ||
              c == '+'))
            return r;
    if (s.front() == '-') {
        if (parse_all(s, r.i)) { r.kind = ParsedNumber::Kind::negative; return r; }
    } else if (parse_all(s, r.u)) {
        r.kind = ParsedNumber::Kind::non_negative;
        return r;
    }
    if (parse_all(s, r.d) && std::isfinite(r.d)) r.kind = ParsedNumber::Kind::floating;
    return r;
}

/// Integer value of a double with no fractional part that fits 64 bits.
bool integral_double(double d, detail::IntegerValue& out) noexcept {
    if (!std::isfinite(d) || std::trunc(d) != d) return false;
    if (d < 0) {
        if (d < -9223372036854775808.0) return false;
        out.negative = true;
        out.signed_value = static_cast<std::int64_t>(d);
        return true;
    }
    if (d >= 18446744073709551616.0) return false;
    out.unsigned_value = static_cast<std::uint64_t>(d);
    return true;
}

}  // namespace

ConversionError::ConversionError(std::string path, std::string expected, std::string got_snippet)
    : Error("at " + path + ": expected " + expected + ", got " + got_snippet), path_(std::move(path)),
      expected_(std::move(expected)), got_(std::move(got_snippet)) {}

std::string snippet(std::string_view text, std::size_t max_chars) {
    std::string out;
    out.reserve(std::min(text.size(), max_chars));
    bool pending_space = false;
    std::size_t i = 0;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out.push_back(' ');
            pending_space = false;
        }
        out.push_back(c);
        if (out.size() > max_chars) break;
    }
    if (out.size() <= max_chars) return out;
    // Cut: keep room for "...", and never split a UTF-8 sequence.
    const std::size_t keep_limit = max_chars >= 3 ? max_chars - 3 : 0;
    std::size_t keep = keep_limit;
    while (keep > 0 && (static_cast<unsigned char>(out[keep]) & 0xC0) == 0x80) --keep;
    out.resize(keep);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "...";
    if (out.size() > max_chars) out.resize(max_chars);
    return out;
}

namespace detail {

void JsonPath::push_member(std::string_view name) {
    if (is_identifier(name)) {
        text_ += '.';
        text_ += name;
    } else {
        text_ += '[';
        text_ += boost::json::serialize(boost::json::value(boost::json::string_view(name.data(), name.size())));
        text_ += ']';
    }
}

void JsonPath::push_index(std::size_t index) {
    text_ += '[';
    text_ += std::to_string(index);
    text_ += ']';
}

void throw_mismatch(const JsonPath& path, std::string expected, const boost::json::value& got) {
    throw ConversionError(path.str(), std::move(expected), describe_value(got));
}

void throw_missing(const JsonPath& path, std::string expected) {
    throw ConversionError(path.str(), std::move(expected), "nothing (required member is missing)");
}

void throw_out_of_range(const JsonPath& path, std::string min, std::string max, const boost::json::value& got) {
    throw ConversionError(path.str(), "integer between " + min + " and " + max, describe_value(got));
}

bool read_bool(const boost::json::value& v, const JsonPath& path) {
    switch (v.kind()) {
    case boost::json::kind::bool_: return v.get_bool();
    case boost::json::kind::int64:
        if (v.get_int64() == 0 || v.get_int64() == 1) return v.get_int64() == 1;
        break;
    case boost::json::kind::uint64:
        if (v.get_uint64() <= 1) return v.get_uint64() == 1;
        break;
    case boost::json::kind::double_:
        if (v.get_double() == 0.0 || v.get_double() == 1.0) return v.get_double() == 1.0;
        break;
    case boost::json::kind::string: {
        const std::string_view s = trim(std::string_view(v.get_string().data(), v.get_string().size()));
        for (std::string_view t : {"true", "yes", "y", "t", "on", "1"})
            if (iequals(s, t)) return true;
        for (std::string_view f : {"false", "no", "n", "f", "off", "0"})
            if (iequals(s, f)) return false;
        break;
    }
    default: break;
    }
    throw_mismatch(path, "boolean", v);
}

IntegerValue read_integer(const boost::json::value& v, const JsonPath& path) {
    IntegerValue out;
    switch (v.kind()) {
    case boost::json::kind::int64:
        if (v.get_int64() < 0) {
            out.negative = true;
            out.signed_value = v.get_int64();
        } else {
            out.unsigned_value = static_cast<std::uint64_t>(v.get_int64());
        }
        return out;
    case boost::json::kind::uint64: out.unsigned_value = v.get_uint64(); return out;
    case boost::json::kind::double_:
        if (integral_double(v.get_double(), out)) return out;
        break;
    case boost::json::kind::string: {
        const ParsedNumber n = parse_number_text(std::string_view(v.get_string().data(), v.get_string().size()));
        switch (n.kind) {
        case ParsedNumber::Kind::negative: out.negative = true; out.signed_value = n.i; return out;
        case ParsedNumber::Kind::non_negative: out.unsigned_value = n.u; return out;
        case ParsedNumber::Kind::floating:
            if (integral_double(n.d, out)) return out;
            break;
        case ParsedNumber::Kind::none: break;
        }
        break;
    }
    default: break;
    }
    throw_mismatch(path, "integer", v);
}

double read_double(const boost::json::value& v, const JsonPath& path) {
    switch (v.kind()) {
    case boost::json::kind::int64: return static_cast<double>(v.get_int64());
    case boost::json::kind::uint64: return static_cast<double>(v.get_uint64());
    case boost::json::kind::double_: return v.get_double();
    case boost::json::kind::string: {
        const ParsedNumber n = parse_number_text(std::string_view(v.get_string().data(), v.get_string().size()));
        switch (n.kind) {
        case ParsedNumber::Kind::negative: return static_cast<double>(n.i);
        case ParsedNumber::Kind::non_negative: return static_cast<double>(n.u);
        case ParsedNumber::Kind::floating: return n.d;
        case ParsedNumber::Kind::none: break;
        }
        break;
    }
    default: break;
    }
    throw_mismatch(path, "number", v);
}

float read_float(const boost::json::value& v, const JsonPath& path) {
    const double d = read_double(v, path);
    if (std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max()))
        throw ConversionError(path.str(), "number within the range of float", describe_value(v));
    return static_cast<float>(d);
}

std::string read_string(const boost::json::value& v, const JsonPath& path) {
    if (const auto* s = v.if_string()) return std::string(s->data(), s->size());
    throw_mismatch(path, "string", v);
}

std::size_t match_enum_name(std::string_view text, std::span<const std::string_view> names) noexcept {
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == text) return i;
    const std::string_view trimmed = trim(text);
    for (std::size_t i = 0; i < names.size(); ++i)
        if (iequals(names[i], trimmed)) return i;
    return names.size();
}

std::string enum_expectation(std::span<const std::string_view> names) {
    std::string out = "one of ";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out += ", ";
        out += '"';
        out += names[i];
        out += '"';
    }
    return out;
}

std::string short_type_name(const std::type_info& type) {
    std::string full = boost::core::demangle(type.name());
    constexpr std::string_view anonymous = "(anonymous namespace)::";
    for (auto pos = full.find(anonymous); pos != std::string::npos; pos = full.find(anonymous))
        full.erase(pos, anonymous.size());
    // Drop every namespace or class qualifier, also inside template arguments: a::b::C<d::E> -> C<E>.
    std::string out;
    out.reserve(full.size());
    std::size_t word_start = 0;  // start of the identifier being copied, in `out`
    for (std::size_t i = 0; i < full.size(); ++i) {
        const char c = full[i];
        if (c == ':' && i + 1 < full.size() && full[i + 1] == ':') {
            out.resize(word_start);
            ++i;
            continue;
        }
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) word_start = out.size() + 1;
        out.push_back(c);
    }
    return out;
}

boost::json::value floating_to_json(double value) noexcept {
    if (!std::isfinite(value)) return nullptr;
    return value;
}

}  // namespace detail
}  // namespace alloy
