#include <alloy/schema.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>

namespace alloy {
namespace {

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// Deep enough for real outputs, shallow enough that hostile input cannot exhaust the stack.
constexpr std::size_t max_json_depth = 64;
/// How many candidate {...}/[...] spans the last-resort scan tries, so the scan stays linear-ish.
constexpr int max_scan_candidates = 16;
constexpr std::size_t reply_snippet_chars = 120;

std::optional<boost::json::value> parse_exact(std::string_view text, const boost::json::storage_ptr& sp) {
    text = trim(text);
    if (text.empty()) return std::nullopt;
    boost::json::parse_options options;
    options.max_depth = max_json_depth;
    options.allow_comments = true;
    options.allow_trailing_commas = true;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec, sp, options);
    if (ec) return std::nullopt;
    return v;
}

/// Contents of the fenced code blocks (```lang ... ```) in order; an unclosed fence runs to the end.
std::optional<boost::json::value> parse_fenced(std::string_view text, const boost::json::storage_ptr& sp) {
    std::size_t pos = 0;
    while ((pos = text.find("```", pos)) != std::string_view::npos) {
        std::size_t start = pos + 3;
        while (start < text.size() && (std::isalnum(static_cast<unsigned char>(text[start])) ||
                                       text[start] == '_' || text[start] == '-' || text[start] == '+'))
            ++start;  // language tag
        const std::size_t close = text.find("```", start);
        const std::string_view body =
            text.substr(start, close == std::string_view::npos ? std::string_view::npos : close - start);
        if (auto v = parse_exact(body, sp)) return v;
        if (close == std::string_view::npos) break;
        pos = close + 3;
    }
    return std::nullopt;
}

/// Index of the bracket closing the one at `open`, skipping JSON strings; npos when unbalanced.
std::size_t matching_bracket(std::string_view text, std::size_t open) noexcept {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = open; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') {
            if (--depth == 0) return i;
        }
    }
    return std::string_view::npos;
}

std::optional<boost::json::value> parse_embedded(std::string_view text, const boost::json::storage_ptr& sp) {
    std::size_t open = text.find_first_of("{[");
    for (int tries = 0; open != std::string_view::npos && tries < max_scan_candidates; ++tries) {
        const std::size_t close = matching_bracket(text, open);
        if (close != std::string_view::npos)
            if (auto v = parse_exact(text.substr(open, close - open + 1), sp)) return v;
        open = text.find_first_of("{[", open + 1);
    }
    return std::nullopt;
}

// ---- output_is_complete ----------------------------------------------------------------------------

bool satisfies(const boost::json::value& v, const boost::json::object& schema, std::size_t depth);

bool type_matches(const boost::json::value& v, std::string_view type) {
    static const detail::JsonPath root;
    try {
        if (type == "object") return v.is_object();
        if (type == "array") return v.is_array();
        if (type == "string") return v.is_string();
        if (type == "null") return v.is_null();
        if (type == "integer") return (void)detail::read_integer(v, root), true;
        if (type == "number") return (void)detail::read_double(v, root), true;
        if (type == "boolean") return (void)detail::read_bool(v, root), true;
    } catch (const ConversionError&) {
        return false;
    }
    return true;  // a type this predicate does not know is not held against the output
}

bool enum_matches(const boost::json::value& v, const boost::json::array& options) {
    std::vector<std::string_view> names;
    for (const auto& option : options) {
        if (const auto* s = option.if_string()) names.emplace_back(s->data(), s->size());
        else if (option == v) return true;
    }
    const auto* s = v.if_string();
    return s && detail::match_enum_name(std::string_view(s->data(), s->size()), names) < names.size();
}

bool accepts_null(const boost::json::object& schema, std::size_t depth) {
    static const boost::json::value null_value;
    return satisfies(null_value, schema, depth);
}

bool satisfies(const boost::json::value& v, const boost::json::object& schema, std::size_t depth) {
    if (depth > max_json_depth) return false;
    if (const auto* any_of = schema.if_contains("anyOf"); any_of && any_of->is_array()) {
        const auto& branches = any_of->get_array();
        return std::any_of(branches.begin(), branches.end(), [&](const boost::json::value& branch) {
            return branch.is_object() && satisfies(v, branch.get_object(), depth + 1);
        });
    }
    if (const auto* type = schema.if_contains("type")) {
        bool ok = false;
        if (const auto* one = type->if_string()) {
            ok = type_matches(v, std::string_view(one->data(), one->size()));
        } else if (const auto* several = type->if_array()) {
            for (const auto& t : *several)
                if (const auto* s = t.if_string(); s && type_matches(v, std::string_view(s->data(), s->size())))
                    ok = true;
        } else {
            ok = true;
        }
        if (!ok) return false;
    }
    if (const auto* values = schema.if_contains("enum"); values && values->is_array() && !v.is_null()) {
        if (!enum_matches(v, values->get_array())) return false;
    }
    if (const auto* obj = v.if_object()) {
        const auto* props = schema.if_contains("properties");
        const boost::json::object* properties = props ? props->if_object() : nullptr;
        if (const auto* req = schema.if_contains("required"); req && req->is_array()) {
            for (const auto& key : req->get_array()) {
                if (!key.is_string() || obj->contains(key.get_string())) continue;
                // An absent nullable member parses as std::nullopt, so it does not make the output incomplete.
                const boost::json::value* sub = properties ? properties->if_contains(key.get_string()) : nullptr;
                if (!(sub && sub->is_object() && accepts_null(sub->get_object(), depth + 1))) return false;
            }
        }
        if (properties) {
            for (const auto& entry : *properties) {
                const auto* member = obj->if_contains(entry.key());
                if (member && entry.value().is_object() && !satisfies(*member, entry.value().get_object(), depth + 1))
                    return false;
            }
        }
        if (const auto* extra = schema.if_contains("additionalProperties"); extra && extra->is_object()) {
            for (const auto& entry : *obj) {
                if (properties && properties->contains(entry.key())) continue;
                if (!satisfies(entry.value(), extra->get_object(), depth + 1)) return false;
            }
        }
    }
    if (const auto* arr = v.if_array()) {
        if (const auto* items = schema.if_contains("items"); items && items->is_object()) {
            for (const auto& item : *arr)
                if (!satisfies(item, items->get_object(), depth + 1)) return false;
        }
    }
    return true;
}

}  // namespace

namespace detail {

void SchemaBuilder::enter(std::type_index type, const std::string& name) {
    if (std::find(stack_.begin(), stack_.end(), type) != stack_.end())
        throw ConfigurationError("recursive type " + name +
                                 " cannot be described as a JSON schema (a struct that contains itself)");
    stack_.push_back(type);
}

boost::json::object primitive_schema(std::string_view type) {
    boost::json::object out;
    out.emplace("type", boost::json::string_view(type.data(), type.size()));
    return out;
}

boost::json::object enum_schema(std::span<const std::string_view> names) {
    boost::json::array values;
    values.reserve(names.size());
    for (const auto name : names) values.emplace_back(boost::json::string_view(name.data(), name.size()));
    boost::json::object out;
    out.emplace("type", "string");
    out.emplace("enum", std::move(values));
    return out;
}

boost::json::object nullable_schema(boost::json::object schema) {
    if (const auto* type = schema.if_contains("type")) {
        if (type->is_string() && schema.size() == 1) {
            boost::json::array types{*type, "null"};
            boost::json::object out;
            out.emplace("type", std::move(types));
            return out;
        }
        if (type->is_array() && schema.size() == 1) {
            const auto& types = type->get_array();
            if (std::find(types.begin(), types.end(), boost::json::value("null")) != types.end()) return schema;
        }
    }
    if (const auto* any_of = schema.if_contains("anyOf"); any_of && any_of->is_array() && schema.size() == 1) {
        for (const auto& branch : any_of->get_array())
            if (branch == primitive_schema("null")) return schema;  // already nullable (optional<optional<T>>)
    }
    boost::json::object out;
    out.emplace("anyOf", boost::json::array{std::move(schema), primitive_schema("null")});
    return out;
}

void require_non_strict(SchemaMode mode, const std::string& type, std::string_view why) {
    if (mode == SchemaMode::strict_output)
        throw ConfigurationError(std::string(why) + ": " + type + " has no strict JSON schema");
}

std::string output_name(std::string_view type_name) {
    constexpr std::size_t max_name = 64;
    std::string out;
    out.reserve(std::min(type_name.size(), max_name));
    for (char c : type_name) {
        if (out.size() == max_name) break;
        const bool allowed = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        if (allowed) out.push_back(c);
        else if (!out.empty() && out.back() != '_') out.push_back('_');
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out.empty() ? std::string("output") : out;
}

std::string serialize_schema(const boost::json::object& schema) { return boost::json::serialize(schema); }

boost::json::object wrap_value_schema(boost::json::object schema) {
    boost::json::object properties;
    properties.emplace("value", std::move(schema));
    boost::json::object out;
    out.emplace("type", "object");
    out.emplace("properties", std::move(properties));
    out.emplace("required", boost::json::array{"value"});
    out.emplace("additionalProperties", false);
    return out;
}

const boost::json::value& unwrap_output(const boost::json::value& v, const OutputSpec& spec) {
    if (!spec.wrapped) return v;
    if (const auto* obj = v.if_object())
        if (const auto* inner = obj->if_contains("value")) return *inner;
    return v;  // the model answered with the bare value
}

void throw_output_error(std::string_view type_name, std::string_view text, std::string_view reason,
                        std::exception_ptr cause) {
    std::string message = "output of type ";
    message += type_name;
    message += " did not parse: ";
    message += reason;
    message += "; reply: ";
    message += snippet(text, reply_snippet_chars);
    throw CommandError(ErrorKind::output_parse, message, {}, std::move(cause));
}

std::optional<boost::json::value> try_parse_model_json(std::string_view text, const boost::json::storage_ptr& sp) {
    text = trim(text);
    if (text.empty()) return std::nullopt;
    if (auto v = parse_exact(text, sp)) return v;
    if (auto v = parse_fenced(text, sp)) return v;
    return parse_embedded(text, sp);
}

std::string_view unparsable_reason(std::string_view text) noexcept {
    return trim(text).empty() ? "reply is empty" : "reply is not valid JSON";
}

}  // namespace detail

boost::json::value parse_model_json(std::string_view text) {
    if (auto v = detail::try_parse_model_json(text)) return std::move(*v);
    if (trim(text).empty()) throw CommandError(ErrorKind::output_parse, "model output is not valid JSON: it is empty");
    throw CommandError(ErrorKind::output_parse,
                       "model output is not valid JSON: " + snippet(text, reply_snippet_chars));
}

bool output_is_complete(std::string_view text, const OutputSpec& spec) noexcept {
    try {
        detail::JsonArena<> arena;
        const std::optional<boost::json::value> parsed = detail::try_parse_model_json(text, arena.storage());
        if (!parsed) return false;
        if (!spec.wrapped) return satisfies(*parsed, spec.schema, 0);
        const auto* props = spec.schema.if_contains("properties");
        const boost::json::value* value_schema = props && props->is_object() ? props->get_object().if_contains("value")
                                                                              : nullptr;
        if (!value_schema || !value_schema->is_object()) return satisfies(*parsed, spec.schema, 0);
        // {"value": x} or the bare x, exactly as parse_output unwraps it.
        return satisfies(detail::unwrap_output(*parsed, spec), value_schema->get_object(), 0);
    } catch (...) {
        return false;
    }
}

}  // namespace alloy
