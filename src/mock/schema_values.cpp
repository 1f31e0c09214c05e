#include "mock/schema_values.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <string>

namespace alloy::mock::detail {
namespace json = boost::json;

namespace {

constexpr int max_depth = 12;  // guards recursive schemas ("$ref":"#" through required properties)

std::string lower(json::string_view s) {
    std::string out(s.begin(), s.end());
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

class Generator {
public:
    explicit Generator(const json::value& root) : root_(root) {}

    json::value generate(const json::value& schema, int depth) {
        if (depth > max_depth) return nullptr;
        const auto* obj = schema.if_object();
        if (!obj) return json::string("x");  // `true` or a malformed schema accepts anything

        if (const auto* ref = obj->if_contains("$ref")) {
            if (const auto* target = resolve(*ref)) return generate(*target, depth + 1);
            return nullptr;
        }
        if (const auto* c = obj->if_contains("const")) return *c;
        if (const auto* e = obj->if_contains("enum"); e && e->is_array() && !e->as_array().empty())
            return e->as_array().front();
        for (const char* key : {"anyOf", "oneOf"}) {
            if (const auto* branches = obj->if_contains(key); branches && branches->is_array()) {
                const json::value* chosen = nullptr;
                for (const auto& b : branches->as_array()) {
                    if (!is_null_schema(b)) {
                        chosen = &b;
                        break;
                    }
                }
                if (!chosen) return nullptr;
                return generate(*chosen, depth + 1);
            }
        }
        if (const auto* all = obj->if_contains("allOf"); all && all->is_array()) return merge_all(*all, depth);

        const std::string type = type_of(*obj);
        if (type == "object") return object_value(*obj, depth);
        if (type == "array") return array_value(*obj, depth);
        if (type == "integer") return integer_value(*obj);
        if (type == "number") return number_value(*obj);
        if (type == "boolean") return true;
        if (type == "null") return nullptr;
        return string_value(*obj);
    }

private:
    static bool is_null_schema(const json::value& s) {
        const auto* o = s.if_object();
        if (!o) return false;
        const auto* t = o->if_contains("type");
        return t && t->is_string() && lower(t->as_string()) == "null";
    }

    // The first non-null entry of `type` (a string or an array); inferred from the keywords when absent.
    static std::string type_of(const json::object& s) {
        if (const auto* t = s.if_contains("type")) {
            if (t->is_string()) return lower(t->as_string());
            if (t->is_array()) {
                for (const auto& v : t->as_array())
                    if (v.is_string() && lower(v.as_string()) != "null") return lower(v.as_string());
                return "null";
            }
        }
        if (s.contains("properties") || s.contains("additionalProperties")) return "object";
        if (s.contains("items") || s.contains("prefixItems")) return "array";
        return "string";
    }

    const json::value* resolve(const json::value& ref) const {
        if (!ref.is_string()) return nullptr;
        const json::string_view r = ref.as_string();
        if (r == "#") return &root_;
        if (!r.starts_with("#/")) return nullptr;
        // A JSON pointer into the root document ("#/$defs/Name", "#/definitions/Name", ...).
        std::error_code ec;
        const json::value* found = root_.find_pointer(r.substr(1), ec);
        return ec ? nullptr : found;
    }

    static const json::value* get(const json::object& o, const char* key) { return o.if_contains(key); }

    static double number_of(const json::value& v) {
        if (v.is_int64()) return static_cast<double>(v.as_int64());
        if (v.is_uint64()) return static_cast<double>(v.as_uint64());
        if (v.is_double()) return v.as_double();
        return 0.0;
    }

    json::value integer_value(const json::object& s) {
        std::int64_t v = ++next_integer_;
        if (const auto* lo = get(s, "minimum"); lo && lo->is_number())
            v = std::max<std::int64_t>(v, static_cast<std::int64_t>(std::ceil(number_of(*lo))));
        if (const auto* lo = get(s, "exclusiveMinimum"); lo && lo->is_number())
            v = std::max<std::int64_t>(v, static_cast<std::int64_t>(std::floor(number_of(*lo))) + 1);
        if (const auto* hi = get(s, "maximum"); hi && hi->is_number())
            v = std::min<std::int64_t>(v, static_cast<std::int64_t>(std::floor(number_of(*hi))));
        if (const auto* hi = get(s, "exclusiveMaximum"); hi && hi->is_number())
            v = std::min<std::int64_t>(v, static_cast<std::int64_t>(std::ceil(number_of(*hi))) - 1);
        return v;
    }

    static json::value number_value(const json::object& s) {
        double v = 1.5;
        if (const auto* lo = get(s, "minimum"); lo && lo->is_number()) v = std::max(v, number_of(*lo));
        if (const auto* lo = get(s, "exclusiveMinimum"); lo && lo->is_number())
            v = std::max(v, number_of(*lo) + 0.5);
        if (const auto* hi = get(s, "maximum"); hi && hi->is_number()) v = std::min(v, number_of(*hi));
        if (const auto* hi = get(s, "exclusiveMaximum"); hi && hi->is_number())
            v = std::min(v, number_of(*hi) - 0.5);
        return v;
    }

    static json::value string_value(const json::object& s) {
        std::string v = "x";
        if (const auto* f = get(s, "format"); f && f->is_string()) {
            const std::string format = lower(f->as_string());
            if (format == "date-time") v = "2024-01-01T00:00:00Z";
            else if (format == "date") v = "2024-01-01";
            else if (format == "time") v = "00:00:00";
            else if (format == "duration") v = "PT1S";
            else if (format == "email") v = "x@example.com";
            else if (format == "hostname") v = "example.com";
            else if (format == "uri" || format == "url") v = "https://example.com/";
            else if (format == "ipv4") v = "127.0.0.1";
            else if (format == "ipv6") v = "::1";
            else if (format == "uuid") v = "00000000-0000-4000-8000-000000000001";
        }
        if (const auto* m = get(s, "minLength"); m && m->is_number()) {
            const auto min_len = static_cast<std::size_t>(std::max(0.0, number_of(*m)));
            if (v.size() < min_len) v.append(min_len - v.size(), 'x');
        }
        return json::string(v);
    }

    json::value array_value(const json::object& s, int depth) {
        json::array out;
        std::size_t count = 1;
        if (const auto* m = get(s, "minItems"); m && m->is_number())
            count = std::max<std::size_t>(count, static_cast<std::size_t>(number_of(*m)));
        if (const auto* m = get(s, "maxItems"); m && m->is_number())
            count = std::min<std::size_t>(count, static_cast<std::size_t>(std::max(0.0, number_of(*m))));
        const json::array* prefix = nullptr;
        if (const auto* p = get(s, "prefixItems"); p && p->is_array()) prefix = &p->as_array();
        const json::value* items = get(s, "items");
        if (prefix) count = std::max(count, prefix->size());
        for (std::size_t i = 0; i < count; ++i) {
            if (prefix && i < prefix->size()) out.push_back(generate((*prefix)[i], depth + 1));
            else if (items) out.push_back(generate(*items, depth + 1));
            else out.push_back(json::string("x"));
        }
        return out;
    }

    json::value object_value(const json::object& s, int depth) {
        json::object out;
        const auto* props = get(s, "properties");
        if (props && props->is_object()) {
            const auto& p = props->as_object();
            // Gemini's propertyOrdering decides the output order when present.
            if (const auto* order = get(s, "propertyOrdering"); order && order->is_array()) {
                for (const auto& name : order->as_array())
                    if (name.is_string())
                        if (const auto* sub = p.if_contains(name.as_string()))
                            out[name.as_string()] = generate(*sub, depth + 1);
            }
            for (const auto& [name, sub] : p)
                if (!out.contains(name)) out[name] = generate(sub, depth + 1);
        } else if (const auto* extra = get(s, "additionalProperties"); extra && extra->is_object()) {
            out["key"] = generate(*extra, depth + 1);  // a map: one entry
        }
        return out;
    }

    json::value merge_all(const json::value& branches, int depth) {
        json::value merged;
        for (const auto& b : branches.as_array()) {
            json::value v = generate(b, depth + 1);
            if (merged.is_object() && v.is_object()) {
                for (auto& [k, x] : v.as_object()) merged.as_object()[k] = std::move(x);
            } else if (merged.is_null()) {
                merged = std::move(v);
            }
        }
        return merged;
    }

    const json::value& root_;
    std::int64_t next_integer_ = 0;
};

}  // namespace

json::value value_for_schema(const json::value& schema) {
    Generator g(schema);
    return g.generate(schema, 0);
}

}  // namespace alloy::mock::detail
