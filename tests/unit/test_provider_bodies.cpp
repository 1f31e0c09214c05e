// Request bodies: those built with a command definition's pre-serialised output schema (spliced as text)
// must equal those built from the schema tree, for every adapter; the text writer the Chat adapter uses.
#include "providers/anthropic.hpp"
#include "providers/body_writer.hpp"
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

TEST_CASE("BodyWriter places commas, escapes text and lets extra override top-level members", "[providers]") {
    using providers::detail::BodyWriter;
    SECTION("nesting and value kinds") {
        const boost::json::object extra;
        BodyWriter w(extra);
        CHECK(w.member("a"));
        w.begin_array();
        w.integer(-3);
        w.number(0.25);
        w.boolean(false);
        w.null();
        w.string("q\"\\\n\x01");
        w.begin_object();
        w.end_object();
        w.begin_array();
        w.end_array();
        w.raw(R"({"x":[1]})");
        w.end_array();
        CHECK(w.member("b"));
        w.begin_object();
        w.key("c");
        w.value(boost::json::parse(R"({"d":[true,"e"]})"));
        w.key("f");
        w.integer(1);
        w.end_object();
        const std::string body = w.finish();
        CHECK(boost::json::parse(body) ==
              boost::json::parse(R"({"a":[-3,0.25,false,null,"q\"\\\n\u0001",{},[],{"x":[1]}],
                                     "b":{"c":{"d":[true,"e"]},"f":1}})"));
        CHECK(body.capacity() < body.size() + 32);  // returned at its size, not the buffer's
    }
    SECTION("every character that needs an escape, at every position around the 8-byte scan") {
        const boost::json::object extra;
        for (const char special : {'"', '\\', '\n', '\x01', '\x1f', '\0'}) {
            for (std::size_t length = 1; length <= 24; ++length) {
                for (std::size_t at = 0; at < length; ++at) {
                    std::string text(length, 'a');
                    text[at] = special;
                    text[length - 1 - at] = special == '"' ? '\x7f' : '"';  // a second, different escape
                    BodyWriter w(extra);
                    CHECK(w.member("t"));
                    w.string(text);
                    const auto parsed = boost::json::parse(w.finish());
                    const auto& got = parsed.at("t").as_string();
                    CHECK(std::string_view(got.data(), got.size()) == text);
                }
            }
        }
    }
    SECTION("extra replaces a member the body would write and adds its own") {
        boost::json::object extra{{"b", "from-extra"}, {"seed", 7}};
        BodyWriter w(extra);
        CHECK(w.member("a"));
        w.integer(1);
        CHECK_FALSE(w.member("b"));  // the caller writes no value
        CHECK(w.member("c"));
        w.string("x");
        CHECK(boost::json::parse(w.finish()) == boost::json::parse(R"({"a":1,"c":"x","b":"from-extra","seed":7})"));
    }
    SECTION("an empty body and a writer nested in another on the same thread") {
        const boost::json::object extra;
        BodyWriter outer(extra);
        {
            BodyWriter inner(extra);
            CHECK(inner.member("k"));
            inner.string(std::string(100000, 'z'));  // grows past what the thread keeps
            CHECK(boost::json::parse(inner.finish()).at("k").as_string().size() == 100000);
        }
        CHECK(outer.finish() == "{}");
        BodyWriter again(extra);  // the thread's buffer is usable again
        CHECK(again.member("n"));
        again.integer(2);
        CHECK(again.finish() == R"({"n":2})");
    }
}

TEST_CASE("chat: extra replaces members the adapter writes; text is escaped", "[providers]") {
    ModelRequest r = alloy::test::full_request("gpt-4.1");
    r.extra["temperature"] = 1;
    r.extra["messages"] = boost::json::array{"replaced"};
    r.messages[0].text = "line\n\"quoted\" \\ tab\t \x1f é";
    const auto adapter = make_openai_chat_adapter({"gpt-4.1", "https://api.openai.com/v1", "k"});
    const auto body = body_of(adapter->build_request(r)).as_object();
    CHECK(body.at("temperature") == 1);
    CHECK(body.at("messages") == boost::json::array{"replaced"});
    CHECK(body.at("seed") == 7);
    CHECK(body.at("max_completion_tokens") == 300);

    ModelRequest plain = alloy::test::full_request("gpt-4.1");
    plain.messages[0].text = r.messages[0].text;
    const auto messages = body_of(adapter->build_request(plain)).as_object().at("messages").as_array();
    CHECK(messages[1].as_object().at("content") == "line\n\"quoted\" \\ tab\t \x1f é");
}
