// A small synchronous HTTP/1.1 client for tests of the mock provider server (independent of alloy's
// own HTTP client), plus SSE/NDJSON splitting and a JSON Schema checker for generated values.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mocktest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

struct Response {
    beast::error_code error;  ///< set when the exchange failed (dropped, truncated, ...)
    unsigned status = 0;
    std::map<std::string, std::string> headers;  ///< lower-case names
    std::string body;                            ///< whole body, or what arrived before the failure
    bool headers_received = false;

    json::value json() const { return json::parse(body); }
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

/// One keep-alive connection to 127.0.0.1:port; every call is bounded by a timeout.
class Client {
public:
    explicit Client(unsigned short port, std::chrono::seconds timeout = std::chrono::seconds(10))
        : Client(std::make_shared<asio::io_context>(), port, timeout) {}

    /// Clients used from one thread may share an io_context (saves descriptors with many clients).
    Client(std::shared_ptr<asio::io_context> ioc, unsigned short port,
           std::chrono::seconds timeout = std::chrono::seconds(10))
        : ioc_(std::move(ioc)), stream_(*ioc_), timeout_(timeout) {
        stream_.expires_after(timeout_);
        beast::error_code ec;
        stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                              [&](beast::error_code e) { ec = e; });
        run();
        if (ec) throw beast::system_error(ec);
    }

    Response request(http::verb verb, const std::string& target, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) {
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, "127.0.0.1");
        if (!body.empty()) req.set(http::field::content_type, "application/json");
        for (const auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        req.prepare_payload();
        Response out;
        // Async operations driven to completion here, so the stream's timeout bounds every step.
        stream_.expires_after(timeout_);
        http::async_write(stream_, req, [&](beast::error_code e, std::size_t) { out.error = e; });
        run();
        if (out.error) return out;
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        http::async_read_header(stream_, buffer_, parser, [&](beast::error_code e, std::size_t) { out.error = e; });
        run();
        if (!out.error) {
            out.headers_received = true;
            http::async_read(stream_, buffer_, parser, [&](beast::error_code e, std::size_t) { out.error = e; });
            run();
        }
        const auto& res = parser.get();
        out.status = res.result_int();
        for (const auto& f : res) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            out.headers[name] = std::string(f.value());
        }
        out.body = res.body();
        return out;
    }

    Response post(const std::string& target, const json::value& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
        return request(http::verb::post, target, json::serialize(body), headers);
    }

private:
    void run() {
        ioc_->restart();
        ioc_->run();
    }

    std::shared_ptr<asio::io_context> ioc_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::chrono::seconds timeout_;
};

/// One server-sent event.
struct SseEvent {
    std::string event;  ///< empty for unnamed events
    std::string data;
};

/// Splits an SSE body into events (blank-line separated; LF or CRLF).
inline std::vector<SseEvent> parse_sse(const std::string& body) {
    std::vector<SseEvent> events;
    SseEvent cur;
    bool any = false;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t end = body.find('\n', pos);
        if (end == std::string::npos) end = body.size();
        std::string line = body.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        pos = end + 1;
        if (line.empty()) {
            if (any) events.push_back(cur);
            cur = {};
            any = false;
            continue;
        }
        if (line.rfind("event: ", 0) == 0) cur.event = line.substr(7);
        else if (line.rfind("data: ", 0) == 0) cur.data += (cur.data.empty() ? "" : "\n") + line.substr(6);
        any = true;
    }
    if (any) events.push_back(cur);
    return events;
}

/// Splits an NDJSON body into parsed lines.
inline std::vector<json::value> parse_ndjson(const std::string& body) {
    std::vector<json::value> lines;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t end = body.find('\n', pos);
        if (end == std::string::npos) end = body.size();
        if (end > pos) lines.push_back(json::parse(body.substr(pos, end - pos)));
        pos = end + 1;
    }
    return lines;
}

/// A JSON Schema checker covering what the mock generates for: type (also upper-case Gemini names),
/// properties/required/additionalProperties, items, enum, const, anyOf, $ref to #/$defs, min/max.
inline bool schema_valid(const json::value& v, const json::value& schema, const json::value& root) {
    const auto* s = schema.if_object();
    if (!s) return true;
    if (const auto* ref = s->if_contains("$ref")) {
        std::string r(ref->as_string());
        if (r == "#") return schema_valid(v, root, root);
        std::error_code ec;
        const auto* target = root.find_pointer(r.substr(1), ec);
        return target && schema_valid(v, *target, root);
    }
    if (const auto* c = s->if_contains("const")) return v == *c;
    if (const auto* e = s->if_contains("enum")) {
        for (const auto& x : e->as_array())
            if (x == v) return true;
        return false;
    }
    if (const auto* any = s->if_contains("anyOf")) {
        for (const auto& b : any->as_array())
            if (schema_valid(v, b, root)) return true;
        return false;
    }
    if (const auto* t = s->if_contains("type")) {
        auto matches = [&](std::string type) {
            for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (type == "object") return v.is_object();
            if (type == "array") return v.is_array();
            if (type == "string") return v.is_string();
            if (type == "integer") return v.is_int64() || v.is_uint64();
            if (type == "number") return v.is_number();
            if (type == "boolean") return v.is_bool();
            if (type == "null") return v.is_null();
            return false;
        };
        bool ok = false;
        if (t->is_string()) ok = matches(std::string(t->as_string()));
        else
            for (const auto& x : t->as_array()) ok = ok || matches(std::string(x.as_string()));
        if (!ok) return false;
    }
    if (v.is_number()) {
        const double d = v.to_number<double>();
        if (const auto* m = s->if_contains("minimum"); m && d < m->to_number<double>()) return false;
        if (const auto* m = s->if_contains("maximum"); m && d > m->to_number<double>()) return false;
    }
    if (v.is_object()) {
        const auto& o = v.as_object();
        const auto* props = s->if_contains("properties");
        if (const auto* req = s->if_contains("required"))
            for (const auto& name : req->as_array())
                if (!o.contains(name.as_string())) return false;
        for (const auto& [k, x] : o) {
            const json::value* sub = props ? props->as_object().if_contains(k) : nullptr;
            if (sub) {
                if (!schema_valid(x, *sub, root)) return false;
            } else if (const auto* ap = s->if_contains("additionalProperties")) {
                if (*ap == false) return false;
                if (!schema_valid(x, *ap, root)) return false;
            }
        }
    }
    if (v.is_array()) {
        if (const auto* items = s->if_contains("items"))
            for (const auto& x : v.as_array())
                if (!schema_valid(x, *items, root)) return false;
        if (const auto* m = s->if_contains("minItems"); m && v.as_array().size() < m->to_number<std::size_t>())
            return false;
    }
    return true;
}

inline bool schema_valid(const json::value& v, const json::value& schema) { return schema_valid(v, schema, schema); }

}  // namespace mocktest
