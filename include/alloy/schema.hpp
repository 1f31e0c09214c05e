// JSON Schema generation from C++ types, and parsing of a model's typed output.
//
// The supported types are those of <alloy/json.hpp>. Schemas per type:
//   bool -> {"type":"boolean"}; integers -> {"type":"integer"}; float/double -> {"type":"number"};
//   std::string -> {"type":"string"}; described enum -> {"type":"string","enum":[names...]};
//   std::vector<T> -> {"type":"array","items":<T>};
//   described struct -> {"type":"object","properties":{...},"required":[...],"additionalProperties":false}
//   with properties in declaration order (base members first).
// Recursive types (a struct that contains itself, e.g. through a vector) are rejected at run time with
// ConfigurationError: strict providers limit nesting and the schema would need $ref.
#pragma once

#include <alloy/errors.hpp>
#include <alloy/json.hpp>
#include <alloy/provider.hpp>

#include <boost/json/array.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

namespace alloy {

/// What a schema is for; the two differ in how optional values and open objects are expressed.
enum class SchemaMode {
    /// Structured output of a typed command (OpenAI strict rules): every object lists all its properties
    /// in `required` and has `additionalProperties:false`; std::optional<T> stays required but nullable
    /// (`{"type":["integer","null"]}` for primitives, `{"anyOf":[<T>,{"type":"null"}]}` otherwise).
    /// Open objects (maps, boost::json::object) and untyped values (boost::json::value, json::array)
    /// cannot be expressed and throw ConfigurationError naming the type.
    strict_output,
    /// Tool parameters: std::optional<T> struct members are left out of `required` and described by T's
    /// schema (the model omits them; `null` is accepted too); other optionals (array items, map values,
    /// the root) are nullable as in strict mode; maps become
    /// `{"type":"object","additionalProperties":<T>}`, boost::json::object `{"type":"object"}`,
    /// boost::json::array `{"type":"array"}` and boost::json::value `{}` (anything).
    tool_parameters,
};

namespace detail {

/// State of one schema generation: the mode and the structs being expanded (to detect recursion).
class SchemaBuilder {
public:
    explicit SchemaBuilder(SchemaMode mode) noexcept : mode_(mode) {}
    SchemaMode mode() const noexcept { return mode_; }
    /// Marks a struct as being expanded; throws ConfigurationError if it already is (recursive type).
    void enter(std::type_index type, const std::string& name);
    void leave() noexcept { stack_.pop_back(); }

private:
    SchemaMode mode_;
    std::vector<std::type_index> stack_;
};

// Non-template steps of schema generation (src/core/schema.cpp).
boost::json::object primitive_schema(std::string_view type);
boost::json::object enum_schema(std::span<const std::string_view> names);
/// `schema` made nullable: a type array for a plain {"type":t}, otherwise anyOf with {"type":"null"}.
boost::json::object nullable_schema(boost::json::object schema);
/// Throws ConfigurationError when `mode` is strict: `type` cannot be expressed in a strict output schema.
void require_non_strict(SchemaMode mode, const std::string& type, std::string_view why);
/// Tool-name-safe form of a type name: [A-Za-z0-9_-] only, at most 64 characters.
std::string output_name(std::string_view type_name);
/// Wraps a non-object root schema as {"type":"object","properties":{"value":...},...}.
boost::json::object wrap_value_schema(boost::json::object schema);
/// Compact JSON text of a schema (OutputSpec::schema_json).
std::string serialize_schema(const boost::json::object& schema);
/// Unwraps {"value": x} of a wrapped output (the bare x is accepted too).
const boost::json::value& unwrap_output(const boost::json::value& v, const OutputSpec& spec);
/// The CommandError(output_parse) for a reply that did not convert into the output type.
[[noreturn]] void throw_output_error(std::string_view type_name, std::string_view text, std::string_view reason,
                                     std::exception_ptr cause);
/// parse_model_json without the exception: std::nullopt when no JSON is found. The value is allocated
/// from `sp` (default: the heap).
std::optional<boost::json::value> try_parse_model_json(std::string_view text,
                                                       const boost::json::storage_ptr& sp = {});

/// Bump allocator for one short-lived JSON tree (a parsed model reply, a request body being built):
/// the first `StackBytes` come from a buffer inside the arena, so an arena declared as a local variable
/// allocates nothing from the heap for small trees; bigger ones take growing heap blocks. All memory is
/// released at once when the arena dies, and Boost.JSON skips per-node destruction of values whose
/// storage is such an arena. Every value created with storage() must die before the arena.
template <std::size_t StackBytes = 2048>
class JsonArena {
public:
    JsonArena() noexcept = default;
    JsonArena(const JsonArena&) = delete;
    JsonArena& operator=(const JsonArena&) = delete;

    /// Storage for values living in this arena (non-owning; copying it costs no reference count).
    const boost::json::storage_ptr& storage() const noexcept { return storage_; }

private:
    alignas(std::max_align_t) unsigned char buffer_[StackBytes];
    boost::json::monotonic_resource resource_{buffer_, StackBytes};
    boost::json::storage_ptr storage_{&resource_};
};
/// Why try_parse_model_json found nothing ("reply is empty", "reply is not valid JSON").
std::string_view unparsable_reason(std::string_view text) noexcept;

template <class T>
boost::json::object schema_node(SchemaBuilder& builder) {
    check_supported<T>();
    constexpr JsonKind kind = json_kind<T>();
    if constexpr (kind == JsonKind::unsupported) {
        return {};  // check_supported reported it
    } else if constexpr (kind == JsonKind::boolean) {
        return primitive_schema("boolean");
    } else if constexpr (kind == JsonKind::integer) {
        return primitive_schema("integer");
    } else if constexpr (kind == JsonKind::number) {
        return primitive_schema("number");
    } else if constexpr (kind == JsonKind::string) {
        return primitive_schema("string");
    } else if constexpr (kind == JsonKind::enumeration) {
        return enum_schema(EnumTable<T>::get().names);
    } else if constexpr (kind == JsonKind::structure) {
        builder.enter(std::type_index(typeid(T)), type_name<T>());
        struct Leave {
            SchemaBuilder& b;
            ~Leave() { b.leave(); }
        } leave{builder};
        boost::json::object properties;
        boost::json::array required;
        properties.reserve(boost::mp11::mp_size<described_members<T>>::value);
        boost::mp11::mp_for_each<described_members<T>>([&](auto d) {
            using Member = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
            if constexpr (json_kind<Member>() == JsonKind::optional) {
                if (builder.mode() == SchemaMode::tool_parameters) {
                    // An optional tool parameter is simply left out by the model.
                    properties.emplace(d.name, schema_node<typename Member::value_type>(builder));
                    return;
                }
            }
            properties.emplace(d.name, schema_node<Member>(builder));
            required.emplace_back(d.name);
        });
        boost::json::object out;
        out.reserve(4);
        out.emplace("type", "object");
        out.emplace("properties", std::move(properties));
        out.emplace("required", std::move(required));
        out.emplace("additionalProperties", false);
        return out;
    } else if constexpr (kind == JsonKind::array) {
        boost::json::object out;
        out.emplace("type", "array");
        out.emplace("items", schema_node<typename T::value_type>(builder));
        return out;
    } else if constexpr (kind == JsonKind::optional) {
        return nullable_schema(schema_node<typename T::value_type>(builder));
    } else if constexpr (kind == JsonKind::map) {
        require_non_strict(builder.mode(), type_name<T>(), "open objects are not allowed in strict output");
        boost::json::object out;
        out.emplace("type", "object");
        out.emplace("additionalProperties", schema_node<typename T::mapped_type>(builder));
        return out;
    } else if constexpr (kind == JsonKind::any_object) {
        require_non_strict(builder.mode(), "boost::json::object", "open objects are not allowed in strict output");
        return primitive_schema("object");
    } else if constexpr (kind == JsonKind::any_array) {
        require_non_strict(builder.mode(), "boost::json::array",
                           "arrays without a typed item schema are not allowed in strict output");
        return primitive_schema("array");
    } else {
        require_non_strict(builder.mode(), "boost::json::value",
                           "untyped values (empty schema {}) are not allowed in strict output");
        return {};
    }
}

template <class T>
const boost::json::object& cached_schema(SchemaMode mode) {
    // Built once per (T, mode); a failed build throws and is retried (and fails again) on the next call.
    if (mode == SchemaMode::strict_output) {
        static const boost::json::object strict = [] {
            SchemaBuilder builder(SchemaMode::strict_output);
            return schema_node<T>(builder);
        }();
        return strict;
    }
    static const boost::json::object tool = [] {
        SchemaBuilder builder(SchemaMode::tool_parameters);
        return schema_node<T>(builder);
    }();
    return tool;
}

}  // namespace detail

/// JSON Schema of T for the given use (see SchemaMode). Built once per (T, mode) and then copied.
/// Throws ConfigurationError for types the mode cannot express and for recursive types.
template <class T>
boost::json::object schema_of(SchemaMode mode = SchemaMode::strict_output) {
    return detail::cached_schema<T>(mode);
}

/// Output spec for a typed command: the strict schema of T. A non-object root (primitive, enum, array,
/// optional) is wrapped as {"type":"object","properties":{"value":<schema>},"required":["value"],
/// "additionalProperties":false} with `wrapped = true`. `name` is the tool-name-safe form of
/// type_name<T>() ([A-Za-z0-9_-], at most 64 characters): "Invoice", "integer", "array_of_Item".
/// Throws ConfigurationError when T cannot be a strict output (maps, untyped JSON, recursive types).
template <class T>
OutputSpec output_spec() {
    static const OutputSpec spec = [] {
        OutputSpec s;
        s.name = detail::output_name(type_name<T>());
        if constexpr (detail::json_kind<T>() == detail::JsonKind::structure) {
            s.schema = detail::cached_schema<T>(SchemaMode::strict_output);
        } else {
            s.schema = detail::wrap_value_schema(detail::cached_schema<T>(SchemaMode::strict_output));
            s.wrapped = true;
        }
        return s;
    }();
    return spec;
}

/// Parses model output text into JSON. Trims whitespace; tolerates a ```json ... ``` (or bare ```)
/// code fence, also with text before or after it; as a last resort takes the first balanced {...} or
/// [...] in the text. Comments and trailing commas are tolerated. Throws
/// CommandError(ErrorKind::output_parse) "model output is not valid JSON ...: <snippet>".
boost::json::value parse_model_json(std::string_view text);

/// Full typed parse of a model reply: parse_model_json, unwrap {"value": x} when spec.wrapped (the bare
/// x is accepted too when the model left the wrapper out), then from_json<T>. Failures throw
/// CommandError(ErrorKind::output_parse) naming the expected type, the conversion path and a snippet
/// of the reply, e.g. `output of type Invoice did not parse: at $.total: expected number, got "abc";
/// reply: {"vendor":...`. The ConversionError is kept as the cause.
template <class T>
T parse_output(std::string_view text, const OutputSpec& spec) {
    detail::JsonArena<> arena;
    const std::optional<boost::json::value> parsed = detail::try_parse_model_json(text, arena.storage());
    if (!parsed) detail::throw_output_error(type_name<T>(), text, detail::unparsable_reason(text), nullptr);
    try {
        return from_json<T>(detail::unwrap_output(*parsed, spec));
    } catch (const ConversionError& e) {
        detail::throw_output_error(type_name<T>(), text, e.what(), std::current_exception());
    }
}

/// Finalize predicate: true when `text` parses as JSON (as parse_model_json does) and satisfies
/// spec.schema: every required key present, recursively through properties, array items and anyOf
/// branches; values of the wrong JSON type fail unless from_json would coerce them ("7" for an integer);
/// enum values must name an enumerator. A wrapped spec also accepts the bare value. Never throws.
bool output_is_complete(std::string_view text, const OutputSpec& spec) noexcept;

}  // namespace alloy
