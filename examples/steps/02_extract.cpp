// Example 02: typed extraction into a described struct.
//
// A command with an output type T sends T's strict JSON Schema to the provider (here Anthropic
// Messages, native `output_config.format`) and parses the answer into T. Structs, nested structs,
// vectors and enums only need BOOST_DESCRIBE_* declarations.
//
// The mock's scripted model fills a schema deterministically: strings "x", integers 1, 2, 3, ... in
// document order, numbers 1.5, the first enum value, one array item. Real models fill in real data.
//
// Also shown: what happens when the model answers with prose instead of JSON. With the default
// `auto_finalize_missing_output` the engine asks once more for the JSON only and succeeds; with it off
// the command fails with ErrorKind::output_parse and a message naming the expected type.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/describe.hpp>
#include <boost/json.hpp>

#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;

enum class Priority { standard, express, overnight };
BOOST_DESCRIBE_ENUM(Priority, standard, express, overnight)

struct Address {
    std::string street;
    std::string city;
    std::string country;
};
BOOST_DESCRIBE_STRUCT(Address, (), (street, city, country))

struct LineItem {
    std::string sku;
    int quantity;
    double unit_price;
};
BOOST_DESCRIBE_STRUCT(LineItem, (), (sku, quantity, unit_price))

struct Order {
    std::string customer;
    Address ship_to;              // nested struct
    std::vector<LineItem> items;  // vector of structs
    Priority priority;            // enum, sent as a string enum
};
BOOST_DESCRIBE_STRUCT(Order, (), (customer, ship_to, items, priority))

// The prompt builder runs when the command is called; the output type is the template argument.
const auto extract_order = alloy::command<Order>(
    "extract_order",
    [](const std::string& email) { return "Extract the order from this e-mail:\n" + email; },
    {.system = "You extract orders. Use ISO country codes."});

std::string_view priority_name(Priority p) {
    switch (p) {
    case Priority::standard: return "standard";
    case Priority::express: return "express";
    case Priority::overnight: return "overnight";
    }
    return "?";
}

asio::awaitable<void> run(alloy::mock::Server& server, alloy::Runtime& rt) {
    const std::string email = "Hi, please send 2 x SKU-41 and 1 x SKU-7 to Ada, 1 Loop Rd, Oslo, Norway. Express!";

    // Handles are bound to the runtime (and to per-call overrides) before being awaited: g++ 12 mishandles
    // some temporaries that live across a co_await, so the awaited expressions stay simple.
    const auto extract = extract_order.in(rt);
    const auto extract_strict = extract.with({.auto_finalize_missing_output = false});

    // 1. The typed result, with its run details (requests, tokens).
    alloy::Detailed<Order> d = co_await extract.detailed(email);
    const Order& order = d.value;
    std::cout << "customer: " << order.customer << ", ship to: " << order.ship_to.street << ", "
              << order.ship_to.city << ", " << order.ship_to.country << "\n";
    std::cout << "items: " << order.items.size() << " (first: " << order.items.at(0).sku << " x "
              << order.items.at(0).quantity << " at " << order.items.at(0).unit_price << ")\n";
    std::cout << "priority: " << priority_name(order.priority) << "\n";
    std::cout << "requests: " << d.info.requests << ", tokens in/out: " << d.info.usage.input_tokens << "/"
              << d.info.usage.output_tokens << "\n";

    // What the provider received: the strict schema of Order under output_config.format.
    const auto body = server.requests().back().body.as_object();
    const auto& schema = body.at("output_config").at("format").at("schema").as_object();
    std::cout << "schema sent: " << boost::json::serialize(schema.at("properties").at("priority")) << "\n";

    // 2. Prose instead of JSON ([[reply ...]] forces it). The finalize follow-up asks for the JSON only.
    alloy::Detailed<Order> fixed = co_await extract.detailed("[[reply Sure! It is Ada's order.]]");
    std::cout << "after finalize: requests " << fixed.info.requests << ", items " << fixed.value.items.size() << "\n";

    // 3. The same without finalize: a parse failure that names the expected type.
    try {
        co_await extract_strict("[[reply Sure! It is Ada's order.]]");
        std::cout << "unexpected success\n";
    } catch (const alloy::CommandError& e) {
        std::cout << "error kind: " << alloy::to_string(e.kind()) << "\n";
        std::cout << "message: " << e.what() << "\n";
    }
}

int main() {
    try {
        alloy::mock::Server server;
        asio::io_context io;
        // Declared after the io_context so it is destroyed first (its pooled connections use `io`).
        // The mock checks that an x-api-key header is present; any value does on loopback.
        alloy::Runtime rt({.model = "claude-sonnet-4-5",
                           .provider = "anthropic",
                           .base_url = server.base_url(),
                           .api_key = "mock-key"});
        auto done = asio::co_spawn(io, run(server, rt), asio::use_future);
        io.run();
        done.get();  // rethrows what the coroutine threw
        std::cout << "example 02 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 02 failed: " << e.what() << "\n";
        return 1;
    }
}
