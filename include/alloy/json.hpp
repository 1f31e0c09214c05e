// Typed conversion between C++ values and JSON.
//
// Supported types (the same set everywhere in alloy-cpp, also for schemas in <alloy/schema.hpp>):
//   bool; integer types (signed/unsigned, range-checked; plain `char` is rejected as ambiguous);
//   float, double; std::string; enums described with BOOST_DESCRIBE_ENUM (JSON strings holding the
//   enumerator names); structs described with BOOST_DESCRIBE_STRUCT (public members, bases included,
//   nested to any depth); std::vector<T>; std::optional<T>; std::map<std::string, T> and
//   std::unordered_map<std::string, T>; boost::json::value / object / array (passed through).
// Any other type fails at compile time with a static_assert that says what is supported.
//
// to_json writes:
//   - described structs as objects with members in declaration order (base members first);
//   - std::nullopt as `null` (optional members are written, not omitted, so the result also satisfies a
//     strict output schema, where every member is required and nullable);
//   - enums as their enumerator name; non-finite floating values as `null`.
//
// from_json is lenient where it is safe (the rules of pydantic's lax mode):
//   - numbers: a string holding a number is accepted ("7" -> 7, " 3.5 " -> 3.5, "1e3" -> 1000);
//   - integers: a float without fractional part is accepted (7.0 -> 7), 7.5 is rejected; values out of the
//     target's range are rejected (the message names the range); booleans are not numbers;
//   - bool: true/false, the numbers 0 and 1, and the strings (case-insensitive, surrounding spaces
//     ignored) "true"/"false", "yes"/"no", "y"/"n", "t"/"f", "on"/"off", "1"/"0";
//   - std::string requires a JSON string: numbers and booleans are NOT converted to text;
//   - enums: the enumerator name, matched exactly first, then case-insensitively;
//   - structs (must be default-constructible): unknown keys are ignored; a missing member is an error unless it is a std::optional
//     (then std::nullopt); `null` is accepted only by std::optional (as std::nullopt) and boost::json::value.
// A value that does not convert throws ConversionError naming the JSON path and the expected type.
#pragma once

#include <alloy/errors.hpp>

#include <boost/core/demangle.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <boost/mp11/algorithm.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

namespace alloy {

/// Thrown by from_json when a value does not convert. what() names the JSON path and the expected type,
/// e.g. `at $.items[2].total: expected number, got "abc"`.
class ConversionError : public Error {
public:
    ConversionError(std::string path, std::string expected, std::string got_snippet);

    /// JSON path of the offending value, e.g. `$.items[2].total` (`$` is the root).
    const std::string& path() const noexcept { return path_; }
    /// What was expected there, e.g. "number", "integer between 0 and 255", "Invoice object".
    const std::string& expected() const noexcept { return expected_; }
    /// A short excerpt of what was found (JSON text), or a note such as "nothing (missing member)".
    const std::string& got() const noexcept { return got_; }

private:
    std::string path_;
    std::string expected_;
    std::string got_;
};

/// Short printable excerpt of text for error messages: whitespace runs (newlines included) become one
/// space, and text longer than max_chars is cut (on a UTF-8 boundary) and ends with "...", the whole
/// result staying within max_chars.
std::string snippet(std::string_view text, std::size_t max_chars = 120);

namespace detail {

template <class>
inline constexpr bool dependent_false = false;

template <class T> struct is_vector : std::false_type {};
template <class T, class A> struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};

template <class T> struct is_string_map : std::false_type {};
template <class K, class V, class C, class A>
struct is_string_map<std::map<K, V, C, A>> : std::true_type {
    static constexpr bool string_key = std::is_same_v<K, std::string>;
};
template <class K, class V, class H, class E, class A>
struct is_string_map<std::unordered_map<K, V, H, E, A>> : std::true_type {
    static constexpr bool string_key = std::is_same_v<K, std::string>;
};

template <class T>
inline constexpr bool is_char_type_v =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;

/// How a C++ type maps to JSON.
enum class JsonKind {
    boolean, integer, number, string, enumeration, structure, array, optional, map,
    any_value, any_object, any_array, unsupported
};

template <class T>
constexpr JsonKind json_kind() {
    if constexpr (std::is_same_v<T, bool>) return JsonKind::boolean;
    else if constexpr (std::is_integral_v<T> && !is_char_type_v<T>) return JsonKind::integer;
    else if constexpr (std::is_floating_point_v<T>) return JsonKind::number;
    else if constexpr (std::is_same_v<T, std::string>) return JsonKind::string;
    else if constexpr (std::is_enum_v<T> && boost::describe::has_describe_enumerators<T>::value)
        return JsonKind::enumeration;
    else if constexpr (std::is_class_v<T> && boost::describe::has_describe_members<T>::value)
        return JsonKind::structure;
    else if constexpr (is_vector<T>::value) return JsonKind::array;
    else if constexpr (is_optional<T>::value) return JsonKind::optional;
    else if constexpr (is_string_map<T>::value) {
        if constexpr (is_string_map<T>::string_key) return JsonKind::map;
        else return JsonKind::unsupported;
    }
    else if constexpr (std::is_same_v<T, boost::json::value>) return JsonKind::any_value;
    else if constexpr (std::is_same_v<T, boost::json::object>) return JsonKind::any_object;
    else if constexpr (std::is_same_v<T, boost::json::array>) return JsonKind::any_array;
    else return JsonKind::unsupported;
}

/// Stops compilation with a readable message for types alloy cannot map to JSON.
template <class T>
constexpr void check_supported() {
    static_assert(!is_char_type_v<T>,
                  "alloy: a character type (char, char8_t, ...) is ambiguous in JSON; use std::string for "
                  "text or a sized integer type (std::int8_t, std::uint8_t) for numbers");
    static_assert(!(is_string_map<T>::value && json_kind<T>() == JsonKind::unsupported),
                  "alloy: maps are supported only with std::string keys (std::map<std::string, T> or "
                  "std::unordered_map<std::string, T>)");
    static_assert(json_kind<T>() != JsonKind::unsupported,
                  "alloy: unsupported type for JSON conversion or schema. Supported: bool, integer types, "
                  "float, double, std::string, enums described with BOOST_DESCRIBE_ENUM, structs described "
                  "with BOOST_DESCRIBE_STRUCT, std::vector<T>, std::optional<T>, std::map<std::string, T>, "
                  "std::unordered_map<std::string, T>, boost::json::value/object/array");
}

/// Members considered for described structs: public ones, inherited ones included.
inline constexpr unsigned member_modifiers = boost::describe::mod_public | boost::describe::mod_inherited;

template <class T>
using described_members = boost::describe::describe_members<T, member_modifiers>;

/// A JSON path under construction (`$`, `$.a`, `$.a[3]`, `$["odd key"]`); guards pop what they push.
class JsonPath {
public:
    const std::string& str() const noexcept { return text_; }
    std::size_t size() const noexcept { return text_.size(); }
    void push_member(std::string_view name);
    void push_index(std::size_t index);
    void truncate(std::size_t size) noexcept { text_.resize(size); }

private:
    std::string text_ = "$";
};

/// Restores a JsonPath to its length at construction.
class PathGuard {
public:
    explicit PathGuard(JsonPath& path) noexcept : path_(path), size_(path.size()) {}
    ~PathGuard() { path_.truncate(size_); }
    PathGuard(const PathGuard&) = delete;
    PathGuard& operator=(const PathGuard&) = delete;

private:
    JsonPath& path_;
    std::size_t size_;
};

/// An integer read from JSON, before the target's range check.
struct IntegerValue {
    bool negative = false;
    std::int64_t signed_value = 0;    ///< valid when negative
    std::uint64_t unsigned_value = 0; ///< valid when !negative
};

// Non-template conversion steps (src/core/json.cpp). Each throws ConversionError on failure.
[[noreturn]] void throw_mismatch(const JsonPath& path, std::string expected, const boost::json::value& got);
[[noreturn]] void throw_missing(const JsonPath& path, std::string expected);
[[noreturn]] void throw_out_of_range(const JsonPath& path, std::string min, std::string max,
                                     const boost::json::value& got);
bool read_bool(const boost::json::value& v, const JsonPath& path);
IntegerValue read_integer(const boost::json::value& v, const JsonPath& path);
double read_double(const boost::json::value& v, const JsonPath& path);
float read_float(const boost::json::value& v, const JsonPath& path);
std::string read_string(const boost::json::value& v, const JsonPath& path);
/// Index of `text` in `names`: exact match first, then case-insensitive; names.size() when absent.
std::size_t match_enum_name(std::string_view text, std::span<const std::string_view> names) noexcept;
/// `one of "a", "b", "c"` for enum error messages.
std::string enum_expectation(std::span<const std::string_view> names);
/// Demangled name of a type without namespace qualifiers (`app::Invoice` -> `Invoice`).
std::string short_type_name(const std::type_info& type);
boost::json::value floating_to_json(double value) noexcept;

/// Enumerator names and values of a described enum, built once.
template <class E>
struct EnumTable {
    static constexpr std::size_t size = boost::mp11::mp_size<boost::describe::describe_enumerators<E>>::value;
    std::array<std::string_view, size> names{};
    std::array<E, size> values{};

    static const EnumTable& get() {
        static const EnumTable table = [] {
            EnumTable t;
            std::size_t i = 0;
            boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
                t.names[i] = d.name;
                t.values[i] = d.value;
                ++i;
            });
            return t;
        }();
        return table;
    }
};

template <class T> std::string compute_type_name();

}  // namespace detail

/// Human-readable name of T's JSON type, used in error messages and output names: "boolean",
/// "integer", "number", "string", "array of integer", "integer or null", "map of string",
/// "object" (boost::json::object), "array" (boost::json::array), "any JSON value"
/// (boost::json::value), and the demangled type name without namespaces for described enums and
/// structs ("Invoice").
template <class T>
std::string type_name() {
    static const std::string name = detail::compute_type_name<T>();
    return name;
}

template <class T>
std::string detail::compute_type_name() {
    check_supported<T>();
    constexpr JsonKind kind = json_kind<T>();
    if constexpr (kind == JsonKind::unsupported) return {};  // check_supported reported it
    else if constexpr (kind == JsonKind::boolean) return "boolean";
    else if constexpr (kind == JsonKind::integer) return "integer";
    else if constexpr (kind == JsonKind::number) return "number";
    else if constexpr (kind == JsonKind::string) return "string";
    else if constexpr (kind == JsonKind::enumeration || kind == JsonKind::structure)
        return short_type_name(typeid(T));
    else if constexpr (kind == JsonKind::array) return "array of " + type_name<typename T::value_type>();
    else if constexpr (kind == JsonKind::optional) return type_name<typename T::value_type>() + " or null";
    else if constexpr (kind == JsonKind::map) return "map of " + type_name<typename T::mapped_type>();
    else if constexpr (kind == JsonKind::any_value) return "any JSON value";
    else if constexpr (kind == JsonKind::any_object) return "object";
    else return "array";
}

/// Converts a value to JSON (see the file comment for the mapping).
template <class T>
boost::json::value to_json(const T& value) {
    detail::check_supported<T>();
    constexpr auto kind = detail::json_kind<T>();
    if constexpr (kind == detail::JsonKind::unsupported) {
        return {};  // check_supported reported it
    } else if constexpr (kind == detail::JsonKind::boolean) {
        return boost::json::value(value);
    } else if constexpr (kind == detail::JsonKind::integer) {
        if constexpr (std::is_signed_v<T>) return boost::json::value(static_cast<std::int64_t>(value));
        else return boost::json::value(static_cast<std::uint64_t>(value));
    } else if constexpr (kind == detail::JsonKind::number) {
        return detail::floating_to_json(static_cast<double>(value));
    } else if constexpr (kind == detail::JsonKind::string) {
        return boost::json::value(boost::json::string_view(value.data(), value.size()));
    } else if constexpr (kind == detail::JsonKind::enumeration) {
        const auto& table = detail::EnumTable<T>::get();
        for (std::size_t i = 0; i < table.size; ++i)
            if (table.values[i] == value)
                return boost::json::value(boost::json::string_view(table.names[i].data(), table.names[i].size()));
        throw Error("enum value " + std::to_string(static_cast<long long>(value)) + " of " + type_name<T>() +
                    " has no described name");
    } else if constexpr (kind == detail::JsonKind::structure) {
        boost::json::object out;
        out.reserve(boost::mp11::mp_size<detail::described_members<T>>::value);
        boost::mp11::mp_for_each<detail::described_members<T>>([&](auto d) {
            out.emplace(d.name, to_json(value.*d.pointer));
        });
        return out;
    } else if constexpr (kind == detail::JsonKind::array) {
        boost::json::array out;
        out.reserve(value.size());
        for (const auto& item : value) out.push_back(to_json(item));
        return out;
    } else if constexpr (kind == detail::JsonKind::optional) {
        if (!value) return nullptr;
        return to_json(*value);
    } else if constexpr (kind == detail::JsonKind::map) {
        boost::json::object out;
        out.reserve(value.size());
        for (const auto& [key, item] : value) out.emplace(key, to_json(item));
        return out;
    } else {
        return boost::json::value(value);
    }
}

namespace detail {

template <class T>
T from_json_at(const boost::json::value& v, JsonPath& path) {
    check_supported<T>();
    constexpr JsonKind kind = json_kind<T>();
    if constexpr (kind == JsonKind::unsupported) {
        throw_mismatch(path, "a supported type", v);  // unreachable: check_supported reported it
    } else if constexpr (kind == JsonKind::boolean) {
        return read_bool(v, path);
    } else if constexpr (kind == JsonKind::integer) {
        const IntegerValue n = read_integer(v, path);
        const bool fits = n.negative ? std::in_range<T>(n.signed_value) : std::in_range<T>(n.unsigned_value);
        if (!fits) {
            if constexpr (std::is_signed_v<T>)
                throw_out_of_range(path, std::to_string(static_cast<long long>(std::numeric_limits<T>::min())),
                                   std::to_string(static_cast<long long>(std::numeric_limits<T>::max())), v);
            else
                throw_out_of_range(path, "0",
                                   std::to_string(static_cast<unsigned long long>(std::numeric_limits<T>::max())),
                                   v);
        }
        return n.negative ? static_cast<T>(n.signed_value) : static_cast<T>(n.unsigned_value);
    } else if constexpr (kind == JsonKind::number) {
        if constexpr (std::is_same_v<T, float>) return read_float(v, path);
        else return static_cast<T>(read_double(v, path));
    } else if constexpr (kind == JsonKind::string) {
        return read_string(v, path);
    } else if constexpr (kind == JsonKind::enumeration) {
        const auto& table = EnumTable<T>::get();
        if (const auto* s = v.if_string()) {
            const std::size_t i = match_enum_name(std::string_view(s->data(), s->size()), table.names);
            if (i < table.size) return table.values[i];
        }
        throw_mismatch(path, enum_expectation(table.names), v);
    } else if constexpr (kind == JsonKind::structure) {
        const auto* obj = v.if_object();
        if (!obj) throw_mismatch(path, type_name<T>() + " object", v);
        T out{};
        boost::mp11::mp_for_each<described_members<T>>([&](auto d) {
            using Member = std::remove_cvref_t<decltype(out.*d.pointer)>;
            PathGuard guard(path);
            path.push_member(d.name);
            if (const auto* field = obj->if_contains(d.name)) {
                out.*d.pointer = from_json_at<Member>(*field, path);
            } else if constexpr (json_kind<Member>() == JsonKind::optional) {
                out.*d.pointer = std::nullopt;
            } else {
                throw_missing(path, type_name<Member>());
            }
        });
        return out;
    } else if constexpr (kind == JsonKind::array) {
        const auto* arr = v.if_array();
        if (!arr) throw_mismatch(path, type_name<T>(), v);
        T out;
        out.reserve(arr->size());
        for (std::size_t i = 0; i < arr->size(); ++i) {
            PathGuard guard(path);
            path.push_index(i);
            out.push_back(from_json_at<typename T::value_type>((*arr)[i], path));
        }
        return out;
    } else if constexpr (kind == JsonKind::optional) {
        if (v.is_null()) return std::nullopt;
        return T(from_json_at<typename T::value_type>(v, path));
    } else if constexpr (kind == JsonKind::map) {
        const auto* obj = v.if_object();
        if (!obj) throw_mismatch(path, type_name<T>(), v);
        T out;
        for (const auto& entry : *obj) {
            PathGuard guard(path);
            path.push_member(std::string_view(entry.key().data(), entry.key().size()));
            out.emplace(std::string(entry.key()), from_json_at<typename T::mapped_type>(entry.value(), path));
        }
        return out;
    } else if constexpr (kind == JsonKind::any_value) {
        return v;
    } else if constexpr (kind == JsonKind::any_object) {
        if (const auto* obj = v.if_object()) return *obj;
        throw_mismatch(path, "object", v);
    } else {
        if (const auto* arr = v.if_array()) return *arr;
        throw_mismatch(path, "array", v);
    }
}

}  // namespace detail

/// Converts JSON to T with the lenient rules of the file comment. Throws ConversionError.
template <class T>
T from_json(const boost::json::value& v) {
    detail::JsonPath path;
    return detail::from_json_at<T>(v, path);
}

}  // namespace alloy
