// Redactor: linear-time detectors for credentials, e-mails, card numbers and `name: value` pairs, plus
// optional user regexes run on bounded windows (std::regex backtracks and recurses per character).
#include <alloy/errors.hpp>
#include <alloy/logging.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <regex>
#include <utility>

namespace alloy {
namespace {

bool is_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_word(char c) noexcept { return is_alnum(c) || c == '_'; }
bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

/// Lower-case, without '-' and '_': the form field names are compared in.
std::string normalize_name(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    for (char c : name)
        if (c != '-' && c != '_') out.push_back(lower(c));
    return out;
}

bool ends_with(std::string_view text, std::string_view suffix) noexcept {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool iequals_at(std::string_view text, std::size_t pos, std::string_view word) noexcept {
    if (pos + word.size() > text.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i)
        if (lower(text[pos + i]) != word[i]) return false;
    return true;
}

/// Half-open byte ranges to replace; `keep_prefix` bytes at the start of a range are kept.
struct Cut {
    std::size_t begin;
    std::size_t end;
};

/// Applies non-overlapping cuts (any order) to `text`.
std::string apply_cuts(const std::string& text, std::vector<Cut>& cuts, std::string_view mask) {
    if (cuts.empty()) return text;
    std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.begin < b.begin; });
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    for (const auto& cut : cuts) {
        const std::size_t begin = std::max(cut.begin, pos);
        if (cut.end <= begin) continue;  // already covered by an earlier, overlapping cut
        out.append(text, pos, begin - pos);
        out.append(mask);
        pos = cut.end;
    }
    out.append(text, pos, std::string::npos);
    return out;
}

bool token_char(char c) noexcept { return is_alnum(c) || c == '-' || c == '_'; }

/// `sk-...` keys (OpenAI, Anthropic `sk-ant-...`): "sk-" at a boundary followed by >= 8 key characters.
void find_sk_keys(std::string_view t, std::vector<Cut>& cuts) {
    for (std::size_t pos = t.find("sk-"); pos != std::string_view::npos; pos = t.find("sk-", pos + 1)) {
        if (pos > 0 && token_char(t[pos - 1])) continue;
        std::size_t end = pos + 3;
        while (end < t.size() && token_char(t[end])) ++end;
        if (end - (pos + 3) >= 8) {
            cuts.push_back({pos, end});
            pos = end - 1;
        }
    }
}

/// Google API keys: "AIza" followed by >= 20 key characters.
void find_google_keys(std::string_view t, std::vector<Cut>& cuts) {
    for (std::size_t pos = t.find("AIza"); pos != std::string_view::npos; pos = t.find("AIza", pos + 1)) {
        if (pos > 0 && token_char(t[pos - 1])) continue;
        std::size_t end = pos + 4;
        while (end < t.size() && token_char(t[end])) ++end;
        if (end - (pos + 4) >= 20) {
            cuts.push_back({pos, end});
            pos = end - 1;
        }
    }
}

bool bearer_token_char(char c) noexcept {
    return is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=' || c == '-';
}

/// `Bearer <token>` (any case): the token is masked, the word "Bearer" kept.
void find_bearer_tokens(std::string_view t, std::vector<Cut>& cuts) {
    for (std::size_t pos = 0; pos + 6 < t.size(); ++pos) {
        if (lower(t[pos]) != 'b' || !iequals_at(t, pos, "bearer")) continue;
        if (pos > 0 && is_word(t[pos - 1])) continue;
        std::size_t start = pos + 6;
        std::size_t spaces = start;
        while (spaces < t.size() && is_space(t[spaces])) ++spaces;
        if (spaces == start) continue;
        std::size_t end = spaces;
        while (end < t.size() && bearer_token_char(t[end])) ++end;
        if (end > spaces) {
            cuts.push_back({spaces, end});
            pos = end - 1;
        }
    }
}

/// E-mail addresses: local part, '@', a dotted domain whose last label has >= 2 letters.
void find_emails(std::string_view t, std::vector<Cut>& cuts) {
    auto local_char = [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; };
    auto domain_char = [](char c) { return is_alnum(c) || c == '.' || c == '-'; };
    std::size_t floor = 0;  // never scan left past the previous match or '@'
    for (std::size_t at = t.find('@'); at != std::string_view::npos; at = t.find('@', at + 1)) {
        std::size_t begin = at;
        while (begin > floor && local_char(t[begin - 1])) --begin;
        std::size_t end = at + 1;
        while (end < t.size() && domain_char(t[end])) ++end;
        floor = at + 1;
        while (end > at + 1 && (t[end - 1] == '.' || t[end - 1] == '-')) --end;
        if (begin == at || end == at + 1) continue;
        const std::string_view domain = t.substr(at + 1, end - at - 1);
        const auto dot = domain.rfind('.');
        if (dot == std::string_view::npos || dot == 0) continue;
        const std::string_view tld = domain.substr(dot + 1);
        if (tld.size() < 2 || !std::all_of(tld.begin(), tld.end(), [](char c) { return is_alnum(c) && !is_digit(c); }))
            continue;
        cuts.push_back({begin, end});
        floor = end;
    }
}

/// Card numbers: 13-19 digits at word boundaries, single spaces or dashes allowed between digits;
/// longer runs that contain separators are masked too (a card may hide in them).
void find_card_numbers(std::string_view t, std::vector<Cut>& cuts) {
    std::size_t pos = 0;
    while (pos < t.size()) {
        if (!is_digit(t[pos]) || (pos > 0 && is_word(t[pos - 1]))) {
            ++pos;
            continue;
        }
        std::size_t digits = 0;
        bool separated = false;
        std::size_t last_digit = pos;
        std::size_t i = pos;
        while (i < t.size()) {
            if (is_digit(t[i])) {
                ++digits;
                last_digit = i;
                ++i;
            } else if ((t[i] == ' ' || t[i] == '-') && i + 1 < t.size() && is_digit(t[i + 1])) {
                separated = true;
                ++i;
            } else {
                break;
            }
        }
        const std::size_t end = last_digit + 1;
        const bool boundary = end >= t.size() || !is_word(t[end]);
        if (boundary && digits >= 13 && (digits <= 19 || separated)) cuts.push_back({pos, end});
        pos = end;
    }
}

/// Names whose values are always credentials, whatever the configuration (normalised form).
constexpr std::array<std::string_view, 4> always_secret_names = {"xapikey", "apikey", "xgoogapikey",
                                                                 "authorization"};

bool value_end(char c) noexcept {
    return is_space(c) || c == ',' || c == ';' || c == '&' || c == '}' || c == ']' || c == '"' || c == '\'';
}

}  // namespace

struct Redactor::Impl {
    RedactionOptions options;
    std::vector<std::string> normalized_fields;
    std::vector<std::regex> patterns;
    std::string regex_mask;  // the mask with '$' escaped for regex_replace

    bool sensitive(std::string_view key, bool include_configured) const {
        const std::string name = normalize_name(key);
        if (name.empty()) return false;
        for (auto secret : always_secret_names)
            if (ends_with(name, secret)) return true;
        if (include_configured)
            for (const auto& field : normalized_fields)
                if (ends_with(name, field)) return true;
        return false;
    }

    /// `name: value` / `name=value` / `"name": "value"` pairs whose name is sensitive.
    void find_pairs(std::string_view t, bool include_configured, std::vector<Cut>& cuts) const {
        std::size_t pos = 0;
        while (pos < t.size()) {
            if (!token_char(t[pos])) {
                ++pos;
                continue;
            }
            const std::size_t begin = pos;
            while (pos < t.size() && token_char(t[pos])) ++pos;
            const std::string_view name = t.substr(begin, pos - begin);
            std::size_t i = pos;
            if (i < t.size() && (t[i] == '"' || t[i] == '\'')) ++i;
            while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
            if (i >= t.size() || (t[i] != ':' && t[i] != '=')) continue;
            if (!sensitive(name, include_configured)) continue;
            ++i;
            while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
            if (i >= t.size()) break;
            std::size_t value_begin = i;
            std::size_t value_end_pos = i;
            if (t[i] == '"' || t[i] == '\'') {
                const char quote = t[i];
                std::size_t close = i + 1;
                while (close < t.size() && t[close] != quote) close += (t[close] == '\\' ? 2 : 1);
                value_end_pos = std::min(close + 1, t.size());
            } else {
                while (value_end_pos < t.size() && !value_end(t[value_end_pos])) ++value_end_pos;
                // An auth scheme ("Basic xyz", "Token xyz"): the credential is the next word.
                const std::string_view word = t.substr(value_begin, value_end_pos - value_begin);
                const bool scheme = normalize_name(word) == "bearer" || normalize_name(word) == "basic" ||
                                    normalize_name(word) == "token" || normalize_name(word) == "digest";
                if (scheme && value_end_pos < t.size() && t[value_end_pos] == ' ') {
                    std::size_t next = value_end_pos + 1;
                    while (next < t.size() && !value_end(t[next])) ++next;
                    if (next > value_end_pos + 1) value_end_pos = next;
                }
            }
            if (value_end_pos > value_begin) cuts.push_back({value_begin, value_end_pos});
            pos = std::max(pos, value_end_pos);
        }
    }

    std::string credentials(std::string text, bool include_configured_pairs) const {
        std::vector<Cut> cuts;
        find_sk_keys(text, cuts);
        find_google_keys(text, cuts);
        find_bearer_tokens(text, cuts);
        find_pairs(text, include_configured_pairs, cuts);
        return apply_cuts(text, cuts, options.mask);
    }

    std::string text(std::string input) const {
        std::vector<Cut> cuts;
        find_sk_keys(input, cuts);
        find_google_keys(input, cuts);
        find_bearer_tokens(input, cuts);
        find_pairs(input, true, cuts);
        if (options.emails) find_emails(input, cuts);
        if (options.card_numbers) find_card_numbers(input, cuts);
        std::string out = apply_cuts(input, cuts, options.mask);
        for (const auto& pattern : patterns) out = apply_pattern(out, pattern);
        return out;
    }

    /// Runs one user regex over windows of at most 1 KiB, cut at whitespace where possible.
    std::string apply_pattern(const std::string& input, const std::regex& pattern) const {
        constexpr std::size_t window = 1024;
        std::string out;
        out.reserve(input.size());
        std::size_t pos = 0;
        while (pos < input.size()) {
            std::size_t end = std::min(input.size(), pos + window);
            if (end < input.size()) {
                std::size_t cut = end;
                while (cut > pos + window / 2 && !is_space(input[cut - 1])) --cut;
                if (cut > pos + window / 2) end = cut;
            }
            out += std::regex_replace(input.substr(pos, end - pos), pattern, regex_mask);
            pos = end;
        }
        return out;
    }

    void json(boost::json::value& value) const {
        switch (value.kind()) {
        case boost::json::kind::object:
            for (auto& member : value.get_object()) {
                if (sensitive(member.key(), true))
                    member.value() = options.mask;
                else
                    json(member.value());
            }
            break;
        case boost::json::kind::array:
            for (auto& item : value.get_array()) json(item);
            break;
        case boost::json::kind::string: {
            auto& s = value.get_string();
            s = text(std::string(s.data(), s.size()));
            break;
        }
        default: break;
        }
    }
};

Redactor::Redactor(RedactionOptions options) {
    auto impl = std::make_shared<Impl>();
    for (const auto& field : options.fields) {
        auto name = normalize_name(field);
        if (!name.empty()) impl->normalized_fields.push_back(std::move(name));
    }
    for (const auto& pattern : options.patterns) {
        try {
            impl->patterns.emplace_back(pattern, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            throw ConfigurationError("invalid redaction pattern '" + pattern + "': " + e.what());
        }
    }
    for (char c : options.mask) {
        if (c == '$') impl->regex_mask.push_back('$');
        impl->regex_mask.push_back(c);
    }
    impl->options = std::move(options);
    impl_ = std::move(impl);
}

Redactor::Redactor() : Redactor(RedactionOptions{}) {}
Redactor::~Redactor() = default;
Redactor::Redactor(const Redactor&) = default;
Redactor& Redactor::operator=(const Redactor&) = default;
Redactor::Redactor(Redactor&&) noexcept = default;
Redactor& Redactor::operator=(Redactor&&) noexcept = default;

bool Redactor::is_sensitive_field(std::string_view key) const { return impl_->sensitive(key, true); }

void Redactor::mask_json(boost::json::value& value) const { impl_->json(value); }

std::string Redactor::mask_text(std::string text) const { return impl_->text(std::move(text)); }

std::string Redactor::mask_credentials(std::string text) const {
    return impl_->credentials(std::move(text), false);
}

std::string sanitize_utf8(std::string_view text) {
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(text.size());
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    std::size_t i = 0;
    while (i < text.size()) {
        const unsigned char c = byte(i);
        std::size_t length = 0;
        unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            if (c == 0xE0) low = 0xA0;   // no overlong forms
            if (c == 0xED) high = 0x9F;  // no surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            if (c == 0xF0) low = 0x90;   // no overlong forms
            if (c == 0xF4) high = 0x8F;  // nothing above U+10FFFF
        }
        bool valid = length > 0 && i + length <= text.size();
        for (std::size_t k = 1; valid && k < length; ++k) {
            const unsigned char cc = byte(i + k);
            valid = k == 1 ? (cc >= low && cc <= high) : (cc >= 0x80 && cc <= 0xBF);
        }
        if (valid) {
            out.append(text.substr(i, length));
            i += length;
        } else {
            out.append(replacement);
            ++i;
        }
    }
    return out;
}

}  // namespace alloy
