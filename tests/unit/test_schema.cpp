#include <alloy/schema.hpp>

#include <boost/describe.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace schema_test {

enum class Status { open, closed };
BOOST_DESCRIBE_ENUM(Status, open, closed)

struct Item {
    std::string name;
    int qty = 0;
};
BOOST_DESCRIBE_STRUCT(Item, (), (name, qty))

struct Order {
    std::string id;
    double total = 0;
    bool paid = false;
    Status status = Status::open;
    std::vector<Item> items;
    std::optional<std::string> note;
    std::optional<Item> gift;
    std::optional<Status> previous;
};
BOOST_DESCRIBE_STRUCT(Order, (), (id, total, paid, status, items, note, gift, previous))

struct Args {
    int a = 0;
    std::optional<int> b;
    std::map<std::string, double> weights;
    boost::json::value anything;
    boost::json::object options;
};
BOOST_DESCRIBE_STRUCT(Args, (), (a, b, weights, anything, options))

struct WithMap {
    std::map<std::string, int> counts;
};
BOOST_DESCRIBE_STRUCT(WithMap, (), (counts))

struct WithAny {
    boost::json::value payload;
};
BOOST_DESCRIBE_STRUCT(WithAny, (), (payload))

struct Node {
    std::string label;
    std::vector<Node> children;
};
BOOST_DESCRIBE_STRUCT(Node, (), (label, children))

struct Base {
    int id = 0;
};
BOOST_DESCRIBE_STRUCT(Base, (), (id))
struct Derived : Base {
    std::string name;
};
BOOST_DESCRIBE_STRUCT(Derived, (Base), (name))

}  // namespace schema_test

using namespace schema_test;
namespace json = boost::json;
using alloy::SchemaMode;

namespace {

template <class T>
std::string strict() { return json::serialize(alloy::schema_of<T>(SchemaMode::strict_output)); }
template <class T>
std::string tool() { return json::serialize(alloy::schema_of<T>(SchemaMode::tool_parameters)); }

/// Message of the CommandError thrown by `f` (fails the test if none is thrown).
template <class F>
alloy::CommandError command_error(F&& f) {
    try {
        f();
    } catch (const alloy::CommandError& e) {
        return e;
    }
    FAIL("expected CommandError");
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("schemas of primitives, enums, vectors and optionals in both modes", "[schema]") {
    CHECK(strict<bool>() == R"({"type":"boolean"})");
    CHECK(strict<long long>() == R"({"type":"integer"})");
    CHECK(strict<unsigned char>() == R"({"type":"integer"})");
    CHECK(strict<float>() == R"({"type":"number"})");
    CHECK(strict<double>() == R"({"type":"number"})");
    CHECK(strict<std::string>() == R"({"type":"string"})");
    CHECK(strict<Status>() == R"({"type":"string","enum":["open","closed"]})");
    CHECK(strict<std::vector<int>>() == R"({"type":"array","items":{"type":"integer"}})");
    CHECK(strict<std::optional<int>>() == R"({"type":["integer","null"]})");
    CHECK(strict<std::optional<std::optional<int>>>() == R"({"type":["integer","null"]})");
    CHECK(strict<std::optional<Status>>() ==
          R"({"anyOf":[{"type":"string","enum":["open","closed"]},{"type":"null"}]})");
    CHECK(strict<std::optional<std::vector<bool>>>() ==
          R"({"anyOf":[{"type":"array","items":{"type":"boolean"}},{"type":"null"}]})");

    CHECK(tool<bool>() == R"({"type":"boolean"})");
    CHECK(tool<int>() == R"({"type":"integer"})");
    CHECK(tool<double>() == R"({"type":"number"})");
    CHECK(tool<std::string>() == R"({"type":"string"})");
    CHECK(tool<Status>() == R"({"type":"string","enum":["open","closed"]})");
    CHECK(tool<std::vector<std::string>>() == R"({"type":"array","items":{"type":"string"}})");
    CHECK(tool<std::optional<int>>() == R"({"type":["integer","null"]})");
    CHECK(tool<std::vector<std::optional<Status>>>() ==
          R"({"type":"array","items":{"anyOf":[{"type":"string","enum":["open","closed"]},{"type":"null"}]}})");
    CHECK(tool<std::map<std::string, int>>() == R"({"type":"object","additionalProperties":{"type":"integer"}})");
    CHECK(tool<std::unordered_map<std::string, Item>>() ==
          R"({"type":"object","additionalProperties":{"type":"object","properties":{"name":{"type":"string"},)"
          R"("qty":{"type":"integer"}},"required":["name","qty"],"additionalProperties":false}})");
    CHECK(tool<json::value>() == "{}");
    CHECK(tool<json::object>() == R"({"type":"object"})");
    CHECK(tool<json::array>() == R"({"type":"array"})");
}

TEST_CASE("strict struct schema: all properties required, nullable optionals, no additional properties",
          "[schema]") {
    const std::string item =
        R"({"type":"object","properties":{"name":{"type":"string"},"qty":{"type":"integer"}},)"
        R"("required":["name","qty"],"additionalProperties":false})";
    CHECK(strict<Item>() == item);
    CHECK(strict<Order>() ==
          R"({"type":"object","properties":{"id":{"type":"string"},"total":{"type":"number"},)"
          R"("paid":{"type":"boolean"},"status":{"type":"string","enum":["open","closed"]},)"
          R"("items":{"type":"array","items":)" + item + R"(},"note":{"type":["string","null"]},)"
          R"("gift":{"anyOf":[)" + item + R"(,{"type":"null"}]},)"
          R"("previous":{"anyOf":[{"type":"string","enum":["open","closed"]},{"type":"null"}]}},)"
          R"("required":["id","total","paid","status","items","note","gift","previous"],)"
          R"("additionalProperties":false})");
    CHECK(strict<Derived>() ==
          R"({"type":"object","properties":{"id":{"type":"integer"},"name":{"type":"string"}},)"
          R"("required":["id","name"],"additionalProperties":false})");
}

TEST_CASE("tool-parameter struct schema: optionals not required, maps and JSON values open", "[schema]") {
    CHECK(tool<Args>() ==
          R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},)"
          R"("weights":{"type":"object","additionalProperties":{"type":"number"}},"anything":{},)"
          R"("options":{"type":"object"}},"required":["a","weights","anything","options"],)"
          R"("additionalProperties":false})");
    CHECK(tool<Order>().find(R"("required":["id","total","paid","status","items"])") != std::string::npos);
    CHECK(tool<Order>().find(R"("note":{"type":"string"},"gift":{"type":"object",)") != std::string::npos);
}

TEST_CASE("strict mode rejects open objects and untyped JSON, naming the type", "[schema]") {
    CHECK_THROWS_AS(alloy::schema_of<WithMap>(), alloy::ConfigurationError);
    CHECK_THROWS_WITH(alloy::schema_of<WithMap>(),
                      "open objects are not allowed in strict output: map of integer has no strict JSON schema");
    CHECK_THROWS_AS(alloy::schema_of<WithAny>(), alloy::ConfigurationError);
    CHECK_THROWS_WITH(alloy::schema_of<WithAny>(), "untyped values (empty schema {}) are not allowed in strict "
                                                   "output: boost::json::value has no strict JSON schema");
    CHECK_THROWS_AS(alloy::schema_of<json::object>(), alloy::ConfigurationError);
    CHECK_THROWS_WITH(alloy::schema_of<json::object>(),
                      Catch::Matchers::Contains("open objects are not allowed in strict output"));
    CHECK_THROWS_AS(alloy::schema_of<json::array>(), alloy::ConfigurationError);
    using StringIntMap = std::map<std::string, int>;
    CHECK_THROWS_AS(alloy::output_spec<StringIntMap>(), alloy::ConfigurationError);
    // A failed build is not cached as success: it fails again.
    CHECK_THROWS_AS(alloy::schema_of<WithMap>(), alloy::ConfigurationError);
    CHECK_NOTHROW(alloy::schema_of<WithMap>(SchemaMode::tool_parameters));
}

TEST_CASE("recursive types are rejected with ConfigurationError", "[schema]") {
    CHECK_THROWS_AS(alloy::schema_of<Node>(), alloy::ConfigurationError);
    CHECK_THROWS_WITH(alloy::schema_of<Node>(), Catch::Matchers::Contains("recursive type Node"));
    CHECK_THROWS_AS(alloy::schema_of<Node>(SchemaMode::tool_parameters), alloy::ConfigurationError);
    // Values of recursive types still convert.
    const auto n = alloy::from_json<Node>(json::parse(R"({"label":"a","children":[{"label":"b","children":[]}]})"));
    CHECK(n.children.at(0).label == "b");
}

TEST_CASE("output_spec wraps non-object roots and names the output", "[schema]") {
    const auto order = alloy::output_spec<Order>();
    CHECK(order.name == "Order");
    CHECK_FALSE(order.wrapped);
    CHECK(json::serialize(order.schema) == strict<Order>());

    const auto integer = alloy::output_spec<int>();
    CHECK(integer.name == "integer");
    CHECK(integer.wrapped);
    CHECK(json::serialize(integer.schema) ==
          R"({"type":"object","properties":{"value":{"type":"integer"}},"required":["value"],)"
          R"("additionalProperties":false})");

    const auto items = alloy::output_spec<std::vector<Item>>();
    CHECK(items.name == "array_of_Item");
    CHECK(items.wrapped);
    CHECK(json::serialize(items.schema) ==
          R"({"type":"object","properties":{"value":{"type":"array","items":)" + strict<Item>() +
              R"(}},"required":["value"],"additionalProperties":false})");

    CHECK(alloy::output_spec<std::optional<Status>>().name == "Status_or_null");
    CHECK(alloy::output_spec<std::optional<Status>>().wrapped);
    CHECK(alloy::output_spec<Status>().name == "Status");
    CHECK(alloy::output_spec<std::vector<std::vector<std::optional<double>>>>().name ==
          "array_of_array_of_number_or_null");
}

TEST_CASE("detail::output_name keeps tool-name characters and at most 64 of them", "[schema]") {
    CHECK(alloy::detail::output_name("Pair<int, Item>") == "Pair_int_Item");
    CHECK(alloy::detail::output_name(std::string(100, 'a')) == std::string(64, 'a'));
    CHECK(alloy::detail::output_name("<>") == "output");
}

TEST_CASE("parse_model_json tolerates whitespace, code fences and surrounding prose", "[schema]") {
    using alloy::parse_model_json;
    CHECK(json::serialize(parse_model_json(R"(  {"a":1}  )")) == R"({"a":1})");
    CHECK(json::serialize(parse_model_json("```json\n{\"a\":1}\n```")) == R"({"a":1})");
    CHECK(json::serialize(parse_model_json("```\n[1,2]\n```")) == "[1,2]");
    CHECK(json::serialize(parse_model_json("Here it is:\n```JSON\n{\"a\":2}\n```\nHope that helps!")) ==
          R"({"a":2})");
    CHECK(json::serialize(parse_model_json("```json {\"a\":3} ```")) == R"({"a":3})");
    CHECK(json::serialize(parse_model_json("```json\n{\"a\":4}")) == R"({"a":4})");  // unclosed fence
    CHECK(json::serialize(parse_model_json(R"(The answer is {"a":{"b":"}"}} as requested.)")) ==
          R"({"a":{"b":"}"}})");
    CHECK(json::serialize(parse_model_json(R"(see [note] then [1, 2])")) == "[1,2]");
    CHECK(json::serialize(parse_model_json(R"({"a":[1,2,],})")) == R"({"a":[1,2]})");
    CHECK(json::serialize(parse_model_json("42")) == "42");
    CHECK(json::serialize(parse_model_json(R"("text")")) == R"("text")");

    const auto bad = command_error([] { (void)parse_model_json("I cannot help with that."); });
    CHECK(bad.kind() == alloy::ErrorKind::output_parse);
    CHECK(std::string(bad.what()) == "model output is not valid JSON: I cannot help with that.");
    const auto empty = command_error([] { (void)parse_model_json(" \n "); });
    CHECK(empty.kind() == alloy::ErrorKind::output_parse);
    CHECK(std::string(empty.what()) == "model output is not valid JSON: it is empty");
    const auto truncated = command_error([] { (void)parse_model_json(R"({"a":[1,2)"); });
    CHECK(std::string(truncated.what()) == R"(model output is not valid JSON: {"a":[1,2)");
    // Hostile nesting is an error, not a crash.
    CHECK_THROWS_AS(parse_model_json(std::string(100000, '[')), alloy::CommandError);
    CHECK_THROWS_AS(parse_model_json(std::string(1000, '[') + std::string(1000, ']')), alloy::CommandError);
}

TEST_CASE("parse_output unwraps wrapped outputs and accepts the bare value", "[schema]") {
    const auto int_spec = alloy::output_spec<int>();
    CHECK(alloy::parse_output<int>(R"({"value": 7})", int_spec) == 7);
    CHECK(alloy::parse_output<int>("7", int_spec) == 7);
    CHECK(alloy::parse_output<int>(R"({"value": "7"})", int_spec) == 7);
    const auto list_spec = alloy::output_spec<std::vector<int>>();
    CHECK(alloy::parse_output<std::vector<int>>("```json\n{\"value\": [1, 2]}\n```", list_spec) ==
          std::vector<int>{1, 2});
    CHECK(alloy::parse_output<std::vector<int>>("[3]", list_spec) == std::vector<int>{3});
    const auto opt_spec = alloy::output_spec<std::optional<Item>>();
    CHECK_FALSE(alloy::parse_output<std::optional<Item>>(R"({"value": null})", opt_spec).has_value());
    CHECK(alloy::parse_output<std::optional<Item>>(R"({"name":"n","qty":2})", opt_spec)->qty == 2);

    const auto order = alloy::parse_output<Order>(
        R"({"id":"o1","total":"9.5","paid":"yes","status":"Closed","items":[{"name":"x","qty":1}],)"
        R"("note":null,"gift":null,"previous":"open"})",
        alloy::output_spec<Order>());
    CHECK(order.total == 9.5);
    CHECK(order.paid);
    CHECK(order.status == Status::closed);
    CHECK(order.previous == std::optional<Status>(Status::open));
}

TEST_CASE("parse_output failures name the type, the path and show the reply", "[schema]") {
    const auto spec = alloy::output_spec<Order>();
    const auto e = command_error([&] {
        (void)alloy::parse_output<Order>(R"({"id":"o1","total":"abc","paid":true})", spec);
    });
    CHECK(e.kind() == alloy::ErrorKind::output_parse);
    CHECK(std::string(e.what()) == R"(output of type Order did not parse: at $.total: expected number, got "abc"; )"
                                   R"(reply: {"id":"o1","total":"abc","paid":true})");
    REQUIRE(e.cause());
    CHECK_THROWS_AS(std::rethrow_exception(e.cause()), alloy::ConversionError);

    const auto not_json = command_error([&] { (void)alloy::parse_output<Order>("Sorry, no.", spec); });
    CHECK(std::string(not_json.what()) == "output of type Order did not parse: reply is not valid JSON; reply: Sorry, no.");
    const auto empty = command_error([&] { (void)alloy::parse_output<Order>("", spec); });
    CHECK(std::string(empty.what()) == "output of type Order did not parse: reply is empty; reply: ");

    const auto wrapped = command_error(
        [] { (void)alloy::parse_output<std::vector<int>>(R"({"value":[1,"x"]})", alloy::output_spec<std::vector<int>>()); });
    CHECK(std::string(wrapped.what()) == R"(output of type array of integer did not parse: at $[1]: expected )"
                                         R"(integer, got "x"; reply: {"value":[1,"x"]})");

    const std::string long_reply = R"({"id":")" + std::string(300, 'z') + R"(","total":"abc"})";
    const auto long_e = command_error([&] { (void)alloy::parse_output<Order>(long_reply, spec); });
    const std::string msg = long_e.what();
    CHECK(msg.find("; reply: {\"id\":\"zzz") != std::string::npos);
    CHECK(msg.size() < 300);
    CHECK(msg.substr(msg.size() - 3) == "...");
}

TEST_CASE("output_is_complete checks required keys recursively", "[schema]") {
    const auto spec = alloy::output_spec<Order>();
    const std::string full = R"({"id":"o","total":1,"paid":false,"status":"open","items":[{"name":"a","qty":1}],)"
                             R"("note":null,"gift":{"name":"g","qty":1},"previous":null})";
    CHECK(alloy::output_is_complete(full, spec));
    CHECK(alloy::output_is_complete("```json\n" + full + "\n```", spec));
    // Nullable members may be left out: they parse as std::nullopt.
    CHECK(alloy::output_is_complete(R"({"id":"o","total":1,"paid":false,"status":"open","items":[]})", spec));
    // A missing top-level key.
    CHECK_FALSE(alloy::output_is_complete(R"({"id":"o","paid":false,"status":"open","items":[]})", spec));
    // A nested required key missing inside an array item.
    CHECK_FALSE(alloy::output_is_complete(
        R"({"id":"o","total":1,"paid":false,"status":"open","items":[{"name":"a","qty":1},{"name":"b"}]})", spec));
    // anyOf: gift is null (fine), a complete Item (fine), or an incomplete Item (not fine).
    CHECK(alloy::output_is_complete(
        R"({"id":"o","total":1,"paid":false,"status":"open","items":[],"gift":null})", spec));
    CHECK_FALSE(alloy::output_is_complete(
        R"({"id":"o","total":1,"paid":false,"status":"open","items":[],"gift":{"qty":1}})", spec));
    // Type checks follow from_json's coercions.
    CHECK(alloy::output_is_complete(R"({"id":"o","total":"1.5","paid":"yes","status":"OPEN","items":[]})", spec));
    CHECK_FALSE(alloy::output_is_complete(R"({"id":"o","total":"abc","paid":false,"status":"open","items":[]})", spec));
    CHECK_FALSE(alloy::output_is_complete(R"({"id":"o","total":1,"paid":false,"status":"lost","items":[]})", spec));
    CHECK_FALSE(alloy::output_is_complete(R"({"id":5,"total":1,"paid":false,"status":"open","items":[]})", spec));
    CHECK_FALSE(alloy::output_is_complete(R"({"id":"o","total":1,"paid":false,"status":"open","items":{}})", spec));
    CHECK_FALSE(alloy::output_is_complete(R"([1,2])", spec));
    // Not JSON, empty, truncated.
    CHECK_FALSE(alloy::output_is_complete("I'm done.", spec));
    CHECK_FALSE(alloy::output_is_complete("", spec));
    CHECK_FALSE(alloy::output_is_complete("   ", spec));
    CHECK_FALSE(alloy::output_is_complete(R"({"id":"o","total":1,)", spec));
}

TEST_CASE("output_is_complete handles wrapped outputs, bare values and custom schemas", "[schema]") {
    const auto ints = alloy::output_spec<std::vector<int>>();
    CHECK(alloy::output_is_complete(R"({"value":[1,2]})", ints));
    CHECK(alloy::output_is_complete("[1,2]", ints));
    CHECK_FALSE(alloy::output_is_complete(R"({"value":[1,"x"]})", ints));
    CHECK_FALSE(alloy::output_is_complete(R"({"other":[1]})", ints));
    CHECK_FALSE(alloy::output_is_complete(R"({"value":7.5})", alloy::output_spec<int>()));
    CHECK(alloy::output_is_complete(R"({"value":7.0})", alloy::output_spec<int>()));

    alloy::OutputSpec custom;
    custom.schema = json::parse(R"({"type":"object","required":["a"],"properties":{"a":{"type":"object",
        "required":["b"],"properties":{"b":{"anyOf":[{"type":"string"},{"type":"array","items":{"type":"object",
        "required":["c"]}}]}}}}})").as_object();
    CHECK(alloy::output_is_complete(R"({"a":{"b":"x"}})", custom));
    CHECK(alloy::output_is_complete(R"({"a":{"b":[{"c":1}]}})", custom));
    CHECK_FALSE(alloy::output_is_complete(R"({"a":{"b":[{"c":1},{"d":1}]}})", custom));
    CHECK_FALSE(alloy::output_is_complete(R"({"a":{}})", custom));
    CHECK_FALSE(alloy::output_is_complete(R"({"a":{"b":3}})", custom));
}

TEST_CASE("schema_of is cached and cheap to call again", "[schema]") {
    const auto first = alloy::schema_of<Order>();
    const auto second = alloy::schema_of<Order>();
    CHECK(first == second);
    CHECK(&alloy::detail::cached_schema<Order>(SchemaMode::strict_output) ==
          &alloy::detail::cached_schema<Order>(SchemaMode::strict_output));
}
