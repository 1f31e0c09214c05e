// Request bodies built with a command definition's pre-serialised output schema (spliced as text)
// must equal those built from the schema tree, for every adapter.
#include "providers/anthropic.hpp"
#include "providers/gemini.hpp"
#include "providers/ollama.hpp"
#include "providers/openai_chat.hpp"
#include "providers/common.hpp"
#include "providers/openai_responses.hpp"
#include "support/provider_fixtures.hpp"

#include <catch2/catch.hpp>

#include <functional>

using namespace alloy;
using namespace alloy::providers;
using alloy::test::body_of;
using alloy::test::full_request;

namespace {

struct Case {
    const char* name;
    std::function<std::unique_ptr<Adapter>()> make;
    const char* model;
    const char* schema_key;  ///< the top-level body member that carries the schema
};

std::vector<Case> cases() {
    return {
        {"openai-chat", [] { return make_openai_chat_adapter({"gpt-4.1", "https://api.openai.com/v1", "k"}); },
         "gpt-4.1", "response_format"},
        {"openai", [] { return make_openai_responses_adapter({"gpt-4.1", "https://api.openai.com/v1", "k"}); },
         "gpt-4.1", "text"},
        {"ollama", [] { return make_ollama_adapter({"llama3.2", "http://localhost:11434", ""}); }, "llama3.2",
         "format"},
        {"anthropic", [] { return make_anthropic_adapter({"claude-sonnet-4-5", "https://api.anthropic.com", "k"}); },
         "claude-sonnet-4-5", nullptr},
        {"gemini", [] { return make_gemini_adapter({"gemini-2.5-flash", "https://g.example", "k"}); },
         "gemini-2.5-flash", nullptr},
    };
}

ModelRequest with_schema_text(ModelRequest request) {
    OutputSpec spec = *request.output;
    spec.schema_json = alloy::detail::serialize_schema(spec.schema);
    request.output = std::make_shared<const OutputSpec>(std::move(spec));
    return request;
}

}  // namespace

TEST_CASE("bodies with a spliced schema text equal bodies built from the schema tree", "[providers]") {
    for (const auto& c : cases()) {
        SECTION(c.name) {
            const auto adapter = c.make();
            const ModelRequest tree = full_request(c.model);
            REQUIRE(tree.output);
            REQUIRE(tree.output->schema_json.empty());
            const ModelRequest text = with_schema_text(tree);
            CHECK(body_of(adapter->build_request(text)) == body_of(adapter->build_request(tree)));

            if (c.schema_key) {
                // `extra` overrides the adapter's member, spliced or not.
                ModelRequest overridden = text;
                overridden.extra[c.schema_key] = "from-extra";
                const auto body = body_of(adapter->build_request(overridden));
                CHECK(body.at(c.schema_key) == "from-extra");
                CHECK(body == body_of(adapter->build_request([&] {
                          ModelRequest r = tree;
                          r.extra[c.schema_key] = "from-extra";
                          return r;
                      }())));
            }
        }
    }
}

TEST_CASE("serialize_body splices a raw member into empty and non-empty bodies", "[providers]") {
    const providers::detail::RawMember raw{"schema", R"({"type":"object"})"};
    CHECK(providers::detail::serialize_body(boost::json::object{}, &raw) == R"({"schema":{"type":"object"}})");
    CHECK(boost::json::parse(providers::detail::serialize_body(boost::json::object{{"a", 1}}, &raw)) ==
          boost::json::parse(R"({"a":1,"schema":{"type":"object"}})"));
    // A key the body has already (from `extra`) is kept; the raw member is dropped.
    CHECK(providers::detail::serialize_body(boost::json::object{{"schema", 2}}, &raw) == R"({"schema":2})");
    std::string quoted;
    providers::detail::append_json_quoted(quoted, "a\"b\n\\");
    CHECK(boost::json::parse(quoted) == "a\"b\n\\");
}
