#include <alloy/tool.hpp>

#include "support/async_test.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe.hpp>
#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <optional>

namespace {

struct AddArgs {
    int a;
    int b;
};
BOOST_DESCRIBE_STRUCT(AddArgs, (), (a, b))

struct SearchArgs {
    std::string query;
    std::optional<int> limit;
};
BOOST_DESCRIBE_STRUCT(SearchArgs, (), (query, limit))

const auto add = alloy::tool("add", "Add two integers", [](AddArgs x) { return x.a + x.b; })
                     .require([](const AddArgs& x) { return x.b >= 0; }, "b must be non-negative")
                     .ensure([](int r) { return r < 1000; }, "result out of range");

}  // namespace

TEST_CASE("tool parameter schema comes from the argument struct, optional members not required", "[tool]") {
    const auto search = alloy::tool("search", "Search", [](SearchArgs s) { return s.query; });
    alloy::Tool erased = search;
    CHECK(erased.name() == "search");
    CHECK(erased.description() == "Search");
    const auto& p = erased.parameters();
    CHECK(p.at("type") == "object");
    CHECK(p.at("properties").as_object().contains("query"));
    CHECK(p.at("properties").as_object().contains("limit"));
    CHECK(p.at("required").as_array() == boost::json::array{"query"});
}

TEST_CASE("zero-argument tools have an empty object schema", "[tool]") {
    const auto now = alloy::tool("now", "Current time", [] { return std::string("12:00"); });
    alloy::Tool erased = now;
    CHECK(erased.parameters().at("type") == "object");
    CHECK(erased.parameters().at("properties").as_object().empty());
    CHECK(now() == "12:00");
    CHECK(erased.impl().call_sync(boost::json::object{}) == "12:00");  // strings verbatim
}

TEST_CASE("direct calls enforce require and ensure and throw ToolError", "[tool]") {
    CHECK(add(AddArgs{2, 3}) == 5);
    try {
        add(AddArgs{2, -1});
        FAIL("require did not fire");
    } catch (const alloy::ToolError& e) {
        CHECK(e.tool() == "add");
        CHECK(e.contract() == "b must be non-negative");
        CHECK_THAT(e.what(), Catch::Contains("b must be non-negative"));
    }
    try {
        add(AddArgs{999, 5});
        FAIL("ensure did not fire");
    } catch (const alloy::ToolError& e) {
        CHECK(e.contract() == "result out of range");
    }
}

TEST_CASE("a throwing predicate is a contract failure", "[tool]") {
    const auto t = alloy::tool("t", "t", [](AddArgs x) { return x.a; })
                       .require([](const AddArgs&) -> bool { throw std::runtime_error("boom"); }, "must hold");
    try {
        t(AddArgs{1, 1});
        FAIL("no error");
    } catch (const alloy::ToolError& e) {
        CHECK(e.contract() == "must hold");
        CHECK_THAT(e.what(), Catch::Contains("boom"));
    }
}

TEST_CASE("builders leave the original tool unchanged", "[tool]") {
    const auto base = alloy::tool("add", "Add", [](AddArgs x) { return x.a + x.b; });
    const auto guarded = base.require([](const AddArgs& x) { return x.a > 0; }, "a positive");
    CHECK(base(AddArgs{-1, 1}) == 0);
    CHECK_THROWS_AS(guarded(AddArgs{-1, 1}), alloy::ToolError);
}

TEST_CASE("the erased call parses arguments, serialises results as JSON", "[tool]") {
    alloy::Tool erased = add;
    CHECK(erased.impl().call_sync(boost::json::parse(R"({"a":"2","b":3})")) == "5");  // lenient "2"
    CHECK_THROWS_AS(erased.impl().call_sync(boost::json::parse(R"({"a":1})")), alloy::ConversionError);
    CHECK_THROWS_AS(erased.impl().call_sync(boost::json::parse(R"({"a":1,"b":-2})")), alloy::ToolError);
}

TEST_CASE("awaitable tool bodies: direct call and erased call enforce contracts", "[tool]") {
    const auto slow_add =
        alloy::tool("slow_add", "Add later",
                    [](AddArgs x) -> boost::asio::awaitable<int> {
                        boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(1));
                        co_await t.async_wait(boost::asio::use_awaitable);
                        co_return x.a + x.b;
                    })
            .ensure([](int r) { return r != 13; }, "unlucky");
    CHECK(alloy::test::run(slow_add(AddArgs{2, 3})) == 5);
    CHECK_THROWS_AS(alloy::test::run(slow_add(AddArgs{6, 7})), alloy::ToolError);
    alloy::Tool erased = slow_add;
    CHECK_FALSE(erased.impl().is_sync());
    CHECK(alloy::test::run(erased.impl().call_async(boost::json::parse(R"({"a":1,"b":1})"))) == "2");
}

TEST_CASE("blocking and timeout markers", "[tool]") {
    const auto t = alloy::tool("t", "t", [](AddArgs x) { return x.a; }).blocking().timeout(std::chrono::milliseconds(50));
    alloy::Tool erased = t;
    CHECK(erased.blocking());
    CHECK(erased.timeout() == std::chrono::milliseconds(50));
}

TEST_CASE("void tools report null", "[tool]") {
    int calls = 0;
    const auto note = alloy::tool("note", "Note", [&calls](AddArgs) { ++calls; });
    alloy::Tool erased = note;
    CHECK(erased.impl().call_sync(boost::json::parse(R"({"a":1,"b":2})")) == "null");
    CHECK(calls == 1);
}
