// Built against the installed package: one typed command against the installed mock server library.
#include <alloy/alloy.hpp>
#include <alloy/mock/server.hpp>

#include <boost/describe.hpp>

#include <iostream>

struct Answer {
    int value;
    std::string unit;
};
BOOST_DESCRIBE_STRUCT(Answer, (), (value, unit))

int main() {
    alloy::mock::Server mock;
    alloy::Runtime rt(alloy::Settings{.provider = "openai-chat", .base_url = mock.base_url() + "/v1"});
    const auto measure = alloy::command<Answer>("measure", [](int n) { return "Measure item " + std::to_string(n); });
    Answer a = measure.in(rt).sync(3);
    std::cout << "consumer ok: " << a.unit << "\n";
    return 0;
}
