#include "core/fake_provider.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

namespace asio = boost::asio;

namespace alloy::detail {

boost::json::value placeholder_for_schema(const boost::json::value& schema) {
    if (!schema.is_object()) return nullptr;
    const auto& s = schema.as_object();
    if (auto* e = s.if_contains("enum"); e && e->is_array() && !e->as_array().empty()) return e->as_array().front();
    if (auto* c = s.if_contains("const")) return *c;
    for (const char* key : {"anyOf", "oneOf"}) {
        if (auto* branches = s.if_contains(key); branches && branches->is_array()) {
            for (const auto& b : branches->as_array()) {
                const auto* t = b.is_object() ? b.as_object().if_contains("type") : nullptr;
                if (t && t->is_string() && t->as_string() == "null") continue;
                return placeholder_for_schema(b);
            }
            return nullptr;
        }
    }
    std::string type;
    if (auto* t = s.if_contains("type")) {
        if (t->is_string()) type = t->as_string();
        else if (t->is_array())
            for (const auto& v : t->as_array())
                if (v.is_string() && v.as_string() != "null") { type = v.as_string(); break; }
    }
    if (type == "object" || (type.empty() && s.contains("properties"))) {
        boost::json::object out;
        if (auto* props = s.if_contains("properties"); props && props->is_object())
            for (const auto& kv : props->as_object()) out[kv.key()] = placeholder_for_schema(kv.value());
        return out;
    }
    if (type == "array") {
        boost::json::array out;
        if (auto* items = s.if_contains("items")) out.push_back(placeholder_for_schema(*items));
        return out;
    }
    if (type == "string") return "example";
    if (type == "integer") return 0;
    if (type == "number") return 0.0;
    if (type == "boolean") return false;
    if (type == "null") return nullptr;
    return boost::json::object{};
}

namespace {

ModelReply fake_reply(const ModelRequest& request) {
    ModelReply reply;
    reply.model = request.model;
    if (request.output) {
        reply.text = boost::json::serialize(placeholder_for_schema(request.output->schema));
    } else {
        std::string last;
        for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it)
            if (it->role == Message::Role::user) { last = it->text; break; }
        reply.text = "[fake] " + last.substr(0, 80);
    }
    reply.usage.input_tokens = 1;
    reply.usage.output_tokens = static_cast<std::int64_t>(reply.text.size() / 4 + 1);
    reply.finish = FinishReason::stop;
    reply.raw_finish_reason = "stop";
    return reply;
}

class FakeStream final : public ReplyStream {
public:
    explicit FakeStream(ModelReply reply) : reply_(std::move(reply)) {}
    asio::awaitable<std::optional<std::string>> next() override {
        if (sent_) co_return std::nullopt;
        sent_ = true;
        co_return reply_.text;
    }
    const ModelReply& final() const override { return reply_; }

private:
    ModelReply reply_;
    bool sent_ = false;
};

class FakeProvider final : public Provider {
public:
    std::string_view name() const noexcept override { return "fake"; }
    asio::awaitable<ModelReply> complete(const ModelRequest& request) override {
        ModelReply reply = fake_reply(request);
        // Yield once so a fake call suspends like a real one (and observes cancellation).
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        co_return reply;
    }
    asio::awaitable<std::unique_ptr<ReplyStream>> stream(const ModelRequest& request) override {
        co_return std::make_unique<FakeStream>(fake_reply(request));
    }
};

}  // namespace

std::shared_ptr<Provider> make_fake_provider() { return std::make_shared<FakeProvider>(); }

}  // namespace alloy::detail
