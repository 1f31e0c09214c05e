#include <alloy/json.hpp>

#include <boost/describe.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace json_test {

enum class Color { red, green, blue };
BOOST_DESCRIBE_ENUM(Color, red, green, blue)

struct Line {
    std::string sku;
    int qty = 0;
    double price = 0;
};
BOOST_DESCRIBE_STRUCT(Line, (), (sku, qty, price))

struct Invoice {
    std::string vendor;
    double total = 0;
    std::vector<Line> items;
    std::optional<std::string> note;
    Color color = Color::red;
    std::map<std::string, int> tags;
    boost::json::value extra;
};
BOOST_DESCRIBE_STRUCT(Invoice, (), (vendor, total, items, note, color, tags, extra))

struct Base {
    int id = 0;
};
BOOST_DESCRIBE_STRUCT(Base, (), (id))

struct Derived : Base {
    std::string name;
};
BOOST_DESCRIBE_STRUCT(Derived, (Base), (name))

struct Numbers {
    std::int8_t i8 = 0;
    std::uint8_t u8 = 0;
    unsigned short us = 0;
    std::int64_t i64 = 0;
    std::uint64_t u64 = 0;
    float f = 0;
};
BOOST_DESCRIBE_STRUCT(Numbers, (), (i8, u8, us, i64, u64, f))

struct Level3 { std::vector<std::optional<int>> values; };
BOOST_DESCRIBE_STRUCT(Level3, (), (values))
struct Level2 { std::unordered_map<std::string, Level3> by_key; };
BOOST_DESCRIBE_STRUCT(Level2, (), (by_key))
struct Level1 { std::optional<Level2> inner; };
BOOST_DESCRIBE_STRUCT(Level1, (), (inner))

namespace outer::inner {
struct Qualified { int x = 0; };
BOOST_DESCRIBE_STRUCT(Qualified, (), (x))
}  // namespace outer::inner

}  // namespace json_test

namespace {
struct Hidden { int y = 0; };
BOOST_DESCRIBE_STRUCT(Hidden, (), (y))
}  // namespace

using namespace json_test;
namespace json = boost::json;

namespace {

std::string dump(const json::value& v) { return json::serialize(v); }

/// Runs from_json<T> on `text` and returns the ConversionError message (fails the test if none).
template <class T>
std::string conversion_error(std::string_view text) {
    try {
        (void)alloy::from_json<T>(json::parse(json::string_view(text.data(), text.size())));
    } catch (const alloy::ConversionError& e) {
        return e.what();
    }
    FAIL("expected ConversionError for " << text);
    return {};
}

template <class T>
T parse_as(std::string_view text) {
    return alloy::from_json<T>(json::parse(json::string_view(text.data(), text.size())));
}

}  // namespace

TEST_CASE("to_json writes scalars, enums, containers and nulls", "[json]") {
    CHECK(dump(alloy::to_json(true)) == "true");
    CHECK(dump(alloy::to_json(-5)) == "-5");
    CHECK(dump(alloy::to_json(std::uint64_t{18446744073709551615ull})) == "18446744073709551615");
    CHECK(dump(alloy::to_json(2.5)) == "2.5E0");
    CHECK(dump(alloy::to_json(std::numeric_limits<double>::infinity())) == "null");
    CHECK(dump(alloy::to_json(std::string("hi\n"))) == R"("hi\n")");
    CHECK(dump(alloy::to_json(Color::green)) == R"("green")");
    CHECK(dump(alloy::to_json(std::vector<int>{1, 2})) == "[1,2]");
    CHECK(dump(alloy::to_json(std::optional<int>{})) == "null");
    CHECK(dump(alloy::to_json(std::optional<int>{3})) == "3");
    CHECK(dump(alloy::to_json(std::map<std::string, bool>{{"a", true}})) == R"({"a":true})");
    CHECK_THROWS_WITH(alloy::to_json(static_cast<Color>(9)), "enum value 9 of Color has no described name");
}

TEST_CASE("to_json writes described structs in declaration order, bases first, nullopt as null", "[json]") {
    Derived d;
    d.id = 4;
    d.name = "x";
    CHECK(dump(alloy::to_json(d)) == R"({"id":4,"name":"x"})");

    Invoice inv{"ACME", 12, {{"w", 2, 6}}, std::nullopt, Color::blue, {{"k", 1}}, json::value{}};
    CHECK(dump(alloy::to_json(inv)) ==
          R"({"vendor":"ACME","total":1.2E1,"items":[{"sku":"w","qty":2,"price":6E0}],"note":null,)"
          R"("color":"blue","tags":{"k":1},"extra":null})");
}

TEST_CASE("to_json and from_json round-trip nested structs", "[json]") {
    Invoice inv{"ACME", 12.5, {{"w", 2, 6.25}, {"z", 1, 0}}, "paid", Color::green, {{"a", 1}, {"b", 2}},
                json::parse(R"({"free":[1,"x",null]})")};
    const Invoice back = alloy::from_json<Invoice>(alloy::to_json(inv));
    CHECK(back.vendor == "ACME");
    CHECK(back.total == 12.5);
    REQUIRE(back.items.size() == 2);
    CHECK(back.items[0].sku == "w");
    CHECK(back.items[0].qty == 2);
    CHECK(back.items[0].price == 6.25);
    CHECK(back.items[1].sku == "z");
    CHECK(back.note == std::optional<std::string>("paid"));
    CHECK(back.color == Color::green);
    CHECK(back.tags == std::map<std::string, int>{{"a", 1}, {"b", 2}});
    CHECK(back.extra == inv.extra);

    Level1 deep;
    deep.inner = Level2{{{"k", Level3{{1, std::nullopt, 3}}}}};
    const Level1 deep_back = alloy::from_json<Level1>(alloy::to_json(deep));
    REQUIRE(deep_back.inner);
    CHECK(deep_back.inner->by_key.at("k").values == std::vector<std::optional<int>>{1, std::nullopt, 3});

    Derived d;
    d.id = 9;
    d.name = "n";
    const Derived d_back = alloy::from_json<Derived>(alloy::to_json(d));
    CHECK(d_back.id == 9);
    CHECK(d_back.name == "n");

    Numbers n{-128, 255, 65535, std::numeric_limits<std::int64_t>::min(),
              std::numeric_limits<std::uint64_t>::max(), 1.5f};
    const Numbers n_back = alloy::from_json<Numbers>(alloy::to_json(n));
    CHECK(n_back.i8 == -128);
    CHECK(n_back.u8 == 255);
    CHECK(n_back.us == 65535);
    CHECK(n_back.i64 == std::numeric_limits<std::int64_t>::min());
    CHECK(n_back.u64 == std::numeric_limits<std::uint64_t>::max());
    CHECK(n_back.f == 1.5f);
}

TEST_CASE("from_json coerces numeric strings and integral floats", "[json]") {
    CHECK(parse_as<int>(R"("7")") == 7);
    CHECK(parse_as<int>(R"(" -7 ")") == -7);
    CHECK(parse_as<int>(R"("+7")") == 7);
    CHECK(parse_as<int>("7.0") == 7);
    CHECK(parse_as<int>(R"("7.0")") == 7);
    CHECK(parse_as<long>(R"("1e3")") == 1000);
    CHECK(parse_as<double>(R"(" 3.5 ")") == 3.5);
    CHECK(parse_as<double>("3") == 3.0);
    CHECK(parse_as<double>(R"("-2")") == -2.0);
    CHECK(parse_as<float>("0.25") == 0.25f);
    CHECK(parse_as<std::uint64_t>(R"("18446744073709551615")") == std::numeric_limits<std::uint64_t>::max());
    CHECK(parse_as<std::int64_t>("-9223372036854775808") == std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("from_json coerces boolean words and 0/1", "[json]") {
    for (const char* yes : {R"("yes")", R"("YES")", R"("true")", R"(" True ")", R"("1")", R"("on")", R"("y")", "1",
                            "true", "1.0"})
        CHECK(parse_as<bool>(yes) == true);
    for (const char* no : {R"("no")", R"("No")", R"("false")", R"("FALSE")", R"("0")", R"("off")", R"("n")", "0",
                           "false"})
        CHECK(parse_as<bool>(no) == false);
}

TEST_CASE("from_json matches enum names exactly, then case-insensitively", "[json]") {
    CHECK(parse_as<Color>(R"("blue")") == Color::blue);
    CHECK(parse_as<Color>(R"("BLUE")") == Color::blue);
    CHECK(parse_as<Color>(R"("Green")") == Color::green);
}

TEST_CASE("from_json handles optional, unknown keys and pass-through JSON", "[json]") {
    const auto line = parse_as<Line>(R"({"sku":"a","qty":1,"price":2,"unknown":{"x":1}})");
    CHECK(line.sku == "a");
    const auto inv = parse_as<Invoice>(
        R"({"vendor":"v","total":1,"items":[],"color":"red","tags":{},"extra":[1,{"a":null}]})");
    CHECK_FALSE(inv.note.has_value());
    CHECK(dump(inv.extra) == R"([1,{"a":null}])");
    CHECK_FALSE(parse_as<std::optional<int>>("null").has_value());
    CHECK(parse_as<std::optional<int>>("4") == std::optional<int>(4));
    CHECK(parse_as<Invoice>(R"({"vendor":"v","total":1,"items":[],"note":null,"color":"red","tags":{},"extra":1})")
              .note == std::nullopt);
    CHECK(dump(parse_as<json::object>(R"({"a":1})")) == R"({"a":1})");
    CHECK(dump(parse_as<json::array>(R"([1])")) == "[1]");
    CHECK(parse_as<std::unordered_map<std::string, double>>(R"({"x":"1.5"})").at("x") == 1.5);
}

TEST_CASE("from_json rejects values that do not convert, naming path and expected type", "[json]") {
    CHECK(conversion_error<int>("7.5") == "at $: expected integer, got 7.5E0");
    CHECK(conversion_error<int>(R"("7.5")") == R"(at $: expected integer, got "7.5")");
    CHECK(conversion_error<int>(R"("abc")") == R"(at $: expected integer, got "abc")");
    CHECK(conversion_error<int>("true") == "at $: expected integer, got true");
    CHECK(conversion_error<int>("null") == "at $: expected integer, got null");
    CHECK(conversion_error<std::uint8_t>("300") == "at $: expected integer between 0 and 255, got 300");
    CHECK(conversion_error<unsigned>("-1") == "at $: expected integer between 0 and 4294967295, got -1");
    CHECK(conversion_error<std::int8_t>(R"("-129")") == R"(at $: expected integer between -128 and 127, got "-129")");
    CHECK(conversion_error<std::int64_t>("1e30") == "at $: expected integer, got 1E30");
    CHECK(conversion_error<double>(R"("abc")") == R"(at $: expected number, got "abc")");
    CHECK(conversion_error<double>(R"("nan")") == R"(at $: expected number, got "nan")");
    CHECK(conversion_error<double>(R"("inf")") == R"(at $: expected number, got "inf")");
    CHECK(conversion_error<double>(R"("")") == R"(at $: expected number, got "")");
    CHECK(conversion_error<double>("false") == "at $: expected number, got false");
    CHECK(conversion_error<float>("1e300") == "at $: expected number within the range of float, got 1E300");
    CHECK(conversion_error<std::string>("7") == "at $: expected string, got 7");
    CHECK(conversion_error<std::string>("true") == "at $: expected string, got true");
    CHECK(conversion_error<bool>(R"("maybe")") == R"(at $: expected boolean, got "maybe")");
    CHECK(conversion_error<bool>("2") == "at $: expected boolean, got 2");
    CHECK(conversion_error<Color>(R"("purple")") ==
          R"(at $: expected one of "red", "green", "blue", got "purple")");
    CHECK(conversion_error<Color>("1") == R"(at $: expected one of "red", "green", "blue", got 1)");
    CHECK(conversion_error<std::vector<int>>(R"({"a":1})") == R"(at $: expected array of integer, got {"a":1})");
    CHECK(conversion_error<std::map<std::string, int>>("[]") == "at $: expected map of integer, got []");
    CHECK(conversion_error<json::object>("[]") == "at $: expected object, got []");
    CHECK(conversion_error<json::array>("{}") == "at $: expected array, got {}");
}

TEST_CASE("from_json errors carry the full path of nested values", "[json]") {
    CHECK(conversion_error<Invoice>(
              R"({"vendor":"v","total":1,"items":[{"sku":"a","qty":1,"price":1},{"sku":"b","qty":1,"price":"x"}],)"
              R"("color":"red","tags":{},"extra":null})") == R"(at $.items[1].price: expected number, got "x")");
    CHECK(conversion_error<Invoice>(R"({"vendor":"v","total":1,"items":[{"sku":"a","price":1}]})") ==
          "at $.items[0].qty: expected integer, got nothing (required member is missing)");
    CHECK(conversion_error<Invoice>(R"({"total":1})") ==
          "at $.vendor: expected string, got nothing (required member is missing)");
    CHECK(conversion_error<Invoice>(R"({"vendor":null})") == "at $.vendor: expected string, got null");
    CHECK(conversion_error<Invoice>(
              R"({"vendor":"v","total":1,"items":[],"color":"red","tags":{"a b":"x"},"extra":null})") ==
          R"(at $.tags["a b"]: expected integer, got "x")");
    CHECK(conversion_error<Invoice>(R"({"vendor":"v","total":1,"items":["w"]})") ==
          R"(at $.items[0]: expected Line object, got "w")");
    CHECK(conversion_error<Level1>(R"({"inner":{"by_key":{"k":{"values":[1,null,"q"]}}}})") ==
          R"(at $.inner.by_key.k.values[2]: expected integer, got "q")");

    try {
        (void)alloy::from_json<Invoice>(json::parse(R"({"vendor":"v","total":"abc"})"));
        FAIL("no exception");
    } catch (const alloy::ConversionError& e) {
        CHECK(e.path() == "$.total");
        CHECK(e.expected() == "number");
        CHECK(e.got() == R"("abc")");
    }
}

TEST_CASE("type_name names every supported kind", "[json]") {
    CHECK(alloy::type_name<bool>() == "boolean");
    CHECK(alloy::type_name<short>() == "integer");
    CHECK(alloy::type_name<std::uint64_t>() == "integer");
    CHECK(alloy::type_name<float>() == "number");
    CHECK(alloy::type_name<std::string>() == "string");
    CHECK(alloy::type_name<Color>() == "Color");
    CHECK(alloy::type_name<Invoice>() == "Invoice");
    CHECK(alloy::type_name<std::vector<int>>() == "array of integer");
    CHECK(alloy::type_name<std::vector<std::vector<Line>>>() == "array of array of Line");
    CHECK(alloy::type_name<std::optional<double>>() == "number or null");
    CHECK(alloy::type_name<std::map<std::string, Line>>() == "map of Line");
    CHECK(alloy::type_name<json::value>() == "any JSON value");
    CHECK(alloy::type_name<json::object>() == "object");
    CHECK(alloy::type_name<json::array>() == "array");
    CHECK(alloy::type_name<outer::inner::Qualified>() == "Qualified");
    CHECK(alloy::type_name<Hidden>() == "Hidden");
    CHECK(alloy::type_name<std::vector<Hidden>>() == "array of Hidden");
    CHECK(alloy::detail::short_type_name(typeid(std::map<std::string, outer::inner::Qualified>)).rfind(
              "map<basic_string<char", 0) == 0);
}

TEST_CASE("snippet makes short single-line excerpts", "[json]") {
    CHECK(alloy::snippet("  hello \n\n  world  ") == "hello world");
    CHECK(alloy::snippet("abcdefghij", 10) == "abcdefghij");
    CHECK(alloy::snippet("abcdefghijk", 10) == "abcdefg...");
    CHECK(alloy::snippet(std::string(500, 'x')).size() == 120);
    CHECK(alloy::snippet("") == "");
    // "é" is two bytes; a cut never leaves half of it behind.
    const std::string s = alloy::snippet("aaaaaa\xC3\xA9zzzz", 10);
    CHECK(s == "aaaaaa...");
}
