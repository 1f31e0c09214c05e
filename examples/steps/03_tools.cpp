// Example 03: tools with require / ensure contracts.
//
// A tool is a C++ function the model may call; its parameter schema comes from a described struct.
// `require` checks the parsed arguments before the body runs, `ensure` checks the result after it.
// Inside a command a failed contract never aborts the run: its message goes back to the model as that
// call's result, so the model can correct itself. Called directly from C++, the tool throws ToolError.
//
// Part 1 runs against the mock provider (OpenAI Chat Completions wire format): the model calls the tool
// three times in one turn, one call violates `require`, one violates `ensure`, and the error texts reach
// the model as tool messages.
// Part 2 shows the model recovering. The mock's scripted model answers after one tool turn, so this part
// uses alloy::testing::ScriptedProvider, an in-process provider whose replies are C++ functions: it
// reads the error the engine sent back and calls the tool again with corrected arguments.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>
#include <alloy/testing.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/describe.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <cmath>
#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;

struct DivideArgs {
    double a;
    double b;
};
BOOST_DESCRIBE_STRUCT(DivideArgs, (), (a, b))

std::atomic<int> divide_bodies_run{0};

const auto divide = alloy::tool("divide", "Divide a by b",
                                [](DivideArgs x) {
                                    ++divide_bodies_run;
                                    return x.a / x.b;
                                })
                        .require([](const DivideArgs& x) { return x.b != 0; }, "b must not be zero")
                        .ensure([](double r) { return std::abs(r) <= 1e6; }, "the result must be within +/-1e6");

const auto calculate = alloy::command("calculate", [](const std::string& task) { return task; },
                                      {.tools = std::vector<alloy::Tool>{divide},
                                       .system = "Use the divide tool for every division."});

// Part 1: contract failures travel back to the model as tool results.
asio::awaitable<void> contracts_on_the_wire(alloy::mock::Server& server, alloy::Runtime& rt) {
    // The [[call ...]] directives make the mock's model request these three calls in one turn.
    const auto calculate_here = calculate.in(rt);
    const std::string answer = co_await calculate_here(
        R"(Compute three quotients. [[call divide {"a": 1, "b": 0}]] [[call divide {"a": 1e9, "b": 0.5}]] )"
        R"([[call divide {"a": 10, "b": 4}]])");

    // The second request carried the three results; print what the model received.
    const boost::json::array messages = server.requests().back().body.at("messages").as_array();
    for (const auto& m : messages) {
        if (m.at("role") != "tool") continue;
        std::cout << "went back to the model: " << m.at("content").as_string().c_str() << "\n";
    }
    std::cout << "final answer: " << answer << "\n";
    std::cout << "tool bodies run: " << divide_bodies_run.load() << " of 3 calls (require stops the first)\n";
}

// Part 2: a model that reads the error and retries with corrected arguments.
alloy::ModelReply careful_model(const alloy::ModelRequest& request) {
    alloy::ModelReply reply;
    const alloy::Message& last = request.messages.back();
    if (last.role == alloy::Message::Role::user) {
        // First turn: a careless call.
        reply.tool_calls.push_back(alloy::testing::call("divide", {{"a", 1}, {"b", 0}}, "call_1"));
        reply.finish = alloy::FinishReason::tool_calls;
    } else if (last.tool_results.at(0).is_error) {
        // The contract's message came back as the call's result: fix the argument and call again.
        std::cout << "model saw: " << last.tool_results[0].content << "\n";
        reply.tool_calls.push_back(alloy::testing::call("divide", {{"a", 1}, {"b", 4}}, "call_2"));
        reply.finish = alloy::FinishReason::tool_calls;
    } else {
        reply.text = "1 / 4 = " + last.tool_results.at(0).content;
    }
    return reply;
}

asio::awaitable<void> model_recovers() {
    auto model = std::make_shared<alloy::testing::ScriptedProvider>();
    model->otherwise(careful_model);
    alloy::Runtime rt;
    rt.set_provider(model);
    const auto calculate_here = calculate.in(rt);
    alloy::Detailed<std::string> d = co_await calculate_here.detailed("What is 1 divided by 4?");
    std::cout << "recovered: " << d.value << " after " << d.info.tool_turns << " tool turns\n";
}

int main() {
    try {
        // Direct C++ calls enforce the same contracts and throw ToolError.
        try {
            divide(DivideArgs{1, 0});
        } catch (const alloy::ToolError& e) {
            std::cout << "direct call: " << e.what() << " (contract: " << e.contract() << ")\n";
        }
        std::cout << "direct call 6 / 3 = " << divide(DivideArgs{6, 3}) << "\n";
        divide_bodies_run = 0;

        alloy::mock::Server server;
        asio::io_context io;
        alloy::Runtime rt({.provider = "openai-chat", .base_url = server.base_url() + "/v1"});
        auto part1 = asio::co_spawn(io, contracts_on_the_wire(server, rt), asio::use_future);
        io.run();
        part1.get();

        io.restart();
        auto part2 = asio::co_spawn(io, model_recovers(), asio::use_future);
        io.run();
        part2.get();
        std::cout << "example 03 ok\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "example 03 failed: " << e.what() << "\n";
        return 1;
    }
}
