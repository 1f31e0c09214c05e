#include "mock/router.hpp"

#include "mock/script.hpp"
#include "mock/wire.hpp"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <cctype>
#include <ctime>
#include <stdexcept>

namespace alloy::mock {

namespace json = boost::json;

Fault fault_from_json(const json::value& v) {
    const auto* o = v.if_object();
    if (!o) throw std::invalid_argument("fault must be a JSON object");
    Fault f;
    auto as_int = [](const json::value& x, std::string_view key) -> std::int64_t {
        if (x.is_int64()) return x.as_int64();
        if (x.is_uint64()) return static_cast<std::int64_t>(x.as_uint64());
        if (x.is_double() && x.as_double() == static_cast<double>(static_cast<std::int64_t>(x.as_double())))
            return static_cast<std::int64_t>(x.as_double());
        throw std::invalid_argument("fault field '" + std::string(key) + "' must be an integer");
    };
    auto as_bool = [](const json::value& x, std::string_view key) {
        if (!x.is_bool()) throw std::invalid_argument("fault field '" + std::string(key) + "' must be a boolean");
        return x.as_bool();
    };
    auto as_string = [](const json::value& x, std::string_view key) {
        if (!x.is_string()) throw std::invalid_argument("fault field '" + std::string(key) + "' must be a string");
        return std::string(x.as_string());
    };
    for (const auto& [key, x] : *o) {
        using ms = std::chrono::milliseconds;
        if (key == "path" || key == "path_contains") f.path_contains = as_string(x, key);
        else if (key == "status") f.status = static_cast<int>(as_int(x, key));
        else if (key == "error_type") f.error_type = as_string(x, key);
        else if (key == "code") f.code = as_string(x, key);
        else if (key == "message") f.message = as_string(x, key);
        else if (key == "retry_after_ms") f.retry_after = ms(as_int(x, key));
        else if (key == "retry_after_in_ms") f.retry_after_in_ms = as_bool(x, key);
        else if (key == "should_retry") f.should_retry = as_bool(x, key);
        else if (key == "delay_before_headers_ms") f.delay_before_headers = ms(as_int(x, key));
        else if (key == "delay_between_chunks_ms") f.delay_between_chunks = ms(as_int(x, key));
        else if (key == "drop_connection") f.drop_connection = as_bool(x, key);
        else if (key == "truncate_body") f.truncate_body = as_bool(x, key);
        else if (key == "truncate_stream_after") f.truncate_stream_after = static_cast<std::size_t>(as_int(x, key));
        else if (key == "malformed_json") f.malformed_json = as_bool(x, key);
        else if (key == "stream_error_event") f.stream_error_event = as_bool(x, key);
        else if (key == "times") f.times = static_cast<int>(as_int(x, key));
        else throw std::invalid_argument("unknown fault field '" + std::string(key) + "'");
    }
    if (f.status != 0 && (f.status < 100 || f.status > 999)) throw std::invalid_argument("fault status out of range");
    return f;
}

namespace detail {
namespace http = boost::beast::http;

namespace {

using Request = http::request<http::string_body>;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_secret_header(std::string_view lower_name) {
    return lower_name == "authorization" || lower_name == "x-api-key" || lower_name == "x-goog-api-key" ||
           lower_name == "api-key" || lower_name == "proxy-authorization" || lower_name == "cookie";
}

// Keeps the scheme of an Authorization value ("Bearer [redacted]") so tests can still assert it.
std::string redact(std::string_view lower_name, std::string_view value) {
    if (lower_name == "authorization" || lower_name == "proxy-authorization") {
        const auto space = value.find(' ');
        if (space != std::string_view::npos) return std::string(value.substr(0, space)) + " [redacted]";
    }
    return "[redacted]";
}

std::string redact_query(std::string_view target) {
    std::string out(target);
    const auto q = out.find('?');
    if (q == std::string::npos) return out;
    std::size_t pos = q + 1;
    while (pos < out.size()) {
        const std::size_t end = std::min(out.find('&', pos), out.size());
        if (out.compare(pos, 4, "key=") == 0) {
            out.replace(pos + 4, end - pos - 4, "[redacted]");
            pos = pos + 4 + 10 + 1;
        } else {
            pos = end + 1;
        }
    }
    return out;
}

// Records the request (credentials redacted) into the state's ring without per-request allocations
// once warm: the head is built in a per-thread scratch string.
void record_request(ServerState& state, const Request& req) {
    if (state.options.max_recorded_requests == 0) return;
    thread_local std::string head;
    head.clear();
    head.append(req.method_string());
    head += '\n';
    if (req.target().find("key=") == std::string_view::npos) head.append(req.target());
    else head.append(redact_query(req.target()));
    head += '\n';
    for (const auto& field : req) {
        const std::size_t name_start = head.size();
        head.append(field.name_string());
        for (std::size_t i = name_start; i < head.size(); ++i)
            head[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(head[i])));
        const std::string_view name(head.data() + name_start, head.size() - name_start);
        const bool secret = is_secret_header(name);
        head += ':';
        if (secret) head.append(redact(lower(field.name_string()), field.value()));
        else head.append(field.value());
        head += '\n';
    }
    state.record(head, req.body());
}

std::string query_of(std::string_view target) {
    const auto q = target.find('?');
    return q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
}

bool query_has(std::string_view query, std::string_view param_prefix) {
    std::size_t pos = 0;
    while (pos <= query.size()) {
        const std::size_t end = std::min(query.find('&', pos), query.size());
        if (query.substr(pos, end - pos).starts_with(param_prefix)) return true;
        pos = end + 1;
    }
    return false;
}

bool has_bearer(const Request& req) {
    const auto it = req.find(http::field::authorization);
    if (it == req.end()) return false;
    const auto v = it->value();
    return v.size() > 7 && lower(v.substr(0, 7)) == "bearer ";
}

// The provider's auth rule for `f`, or the error to answer with.
std::optional<WireError> check_auth(Format f, const Request& req, std::string_view query, bool require_auth) {
    switch (f) {
    case Format::chat:
    case Format::responses:
        if (require_auth && !has_bearer(req))
            return WireError{401, "invalid_request_error", "invalid_api_key",
                             "You didn't provide an API key. You need to provide your API key in an Authorization "
                             "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", {}};
        return std::nullopt;
    case Format::ollama:
        if (require_auth && !has_bearer(req)) return WireError{401, "", "", "unauthorized", {}};
        return std::nullopt;
    case Format::anthropic:
        if (req.find("x-api-key") == req.end() && !has_bearer(req))
            return WireError{401, "authentication_error", "", "x-api-key header is required", {}};
        if (req.find("anthropic-version") == req.end())
            return WireError{400, "invalid_request_error", "", "anthropic-version: header is required", {}};
        return std::nullopt;
    case Format::gemini:
        if (req.find("x-goog-api-key") == req.end() && !query_has(query, "key="))
            return WireError{403, "PERMISSION_DENIED", "",
                             "Method doesn't allow unregistered callers (callers without established identity). "
                             "Please use API Key or other form of API consumer identity to call this API.", {}};
        return std::nullopt;
    }
    return std::nullopt;
}

void add_id_headers(Format f, const RequestInfo& info, Plan& plan) {
    const std::string id = "req_mock_" + std::to_string(info.seq);
    if (f == Format::chat || f == Format::responses) plan.headers.emplace_back("x-request-id", id);
    else if (f == Format::anthropic) plan.headers.emplace_back("request-id", id);
}

void set_error(Plan& plan, Format f, const WireError& e, const RequestInfo& info) {
    plan.status = static_cast<unsigned>(e.status);
    plan.streaming = false;
    plan.events.clear();
    plan.content_type = "application/json";
    plan.body = error_body(f, e, info);
}

WireError fault_error(const Fault& fault, int default_status) {
    WireError e;
    e.status = fault.status ? fault.status : default_status;
    e.type = fault.error_type;
    e.code = fault.code;
    e.message = fault.message;
    e.retry_after = fault.retry_after;
    return e;
}

void add_retry_headers(const Fault& fault, Plan& plan) {
    if (fault.retry_after) {
        const auto ms = fault.retry_after->count();
        if (fault.retry_after_in_ms) plan.headers.emplace_back("retry-after-ms", std::to_string(ms));
        else plan.headers.emplace_back("retry-after", std::to_string((ms + 999) / 1000));
    }
    if (fault.should_retry) plan.headers.emplace_back("x-should-retry", *fault.should_retry ? "true" : "false");
}

int default_stream_error_status(Format f) {
    if (f == Format::anthropic) return 529;
    if (f == Format::gemini) return 503;
    return 500;
}

Plan control(ServerState& state, const Request& req, std::string_view path) {
    Plan plan;
    auto reply = [&plan](unsigned status, const json::value& v) {
        plan.status = status;
        plan.body = json::serialize(v);
    };
    if (path == "/_mock/faults" && req.method() == http::verb::post) {
        std::error_code ec;
        json::value v = json::parse(req.body(), ec);
        if (ec) {
            reply(400, json::object{{"error", "invalid JSON: " + ec.message()}});
            return plan;
        }
        const json::value* list = &v;
        if (v.is_object() && v.as_object().contains("faults")) list = &v.as_object().at("faults");
        std::vector<Fault> faults;
        try {
            if (list->is_array()) {
                for (const auto& f : list->as_array()) faults.push_back(fault_from_json(f));
            } else {
                faults.push_back(fault_from_json(*list));
            }
        } catch (const std::invalid_argument& e) {
            reply(400, json::object{{"error", e.what()}});
            return plan;
        }
        for (auto& f : faults) state.push_fault(std::move(f));
        reply(200, json::object{{"queued", faults.size()}});
    } else if (path == "/_mock/reset" && req.method() == http::verb::post) {
        state.reset();
        reply(200, json::object{{"ok", true}});
    } else if (path == "/_mock/stats" && req.method() == http::verb::get) {
        const Stats s = state.stats();
        reply(200, json::object{{"requests", s.requests},
                                {"connections_accepted", s.connections_accepted},
                                {"open_connections", s.open_connections},
                                {"faults_applied", s.faults_applied},
                                {"faults_pending", s.faults_pending}});
    } else if (path == "/_mock/requests" && req.method() == http::verb::get) {
        json::array out;
        for (const auto& r : state.recorded()) {
            json::object headers;
            for (const auto& [k, v] : r.headers) headers[k] = v;
            out.push_back(json::object{
                {"method", r.method}, {"target", r.target}, {"headers", std::move(headers)}, {"body", r.body}});
        }
        reply(200, out);
    } else {
        reply(404, json::object{{"error", "unknown control endpoint " + std::string(path)}});
    }
    return plan;
}

// Model name from a Gemini path ".../models/{model}:method".
std::string gemini_model(std::string_view path) {
    const auto m = path.rfind("/models/");
    const auto colon = path.rfind(':');
    if (m == std::string_view::npos || colon == std::string_view::npos || colon < m) return {};
    return std::string(path.substr(m + 8, colon - m - 8));
}

void apply_stream_faults(Plan& plan, Format f, const Fault& fault, const RequestInfo& info) {
    if (fault.stream_error_event) {
        const std::size_t k = first_content_event(f, plan.events);
        plan.events.resize(std::min(plan.events.size(), k + 1));
        auto errors = stream_error_events(f, fault_error(fault, default_stream_error_status(f)), info, k + 1);
        for (auto& e : errors) plan.events.push_back(std::move(e));
    }
    if (fault.malformed_json) {
        const std::size_t k = first_content_event(f, plan.events);
        plan.events.insert(plan.events.begin() + static_cast<std::ptrdiff_t>(std::min(plan.events.size(), k + 1)),
                           malformed_event(f, info));
    }
    if (fault.truncate_stream_after) plan.truncate_after = *fault.truncate_stream_after;
    if (fault.truncate_body) plan.truncate_body = true;
}

void apply_body_faults(Plan& plan, Format f, const Fault& fault, const RequestInfo& info) {
    if (fault.stream_error_event) {
        set_error(plan, f, fault_error(fault, 500), info);
        add_retry_headers(fault, plan);
        return;
    }
    if (fault.malformed_json) plan.body = malformed_body(f);
    if (fault.truncate_body || fault.truncate_stream_after) plan.truncate_body = true;
}

}  // namespace

Plan handle_request(ServerState& state, const Request& req) {
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, std::min(target.find('?'), target.size()));
    if (path.starts_with("/_mock/")) return control(state, req, path);

    state.requests.fetch_add(1, std::memory_order_relaxed);
    Plan plan;
    RequestInfo info;
    info.seq = state.sequence.fetch_add(1, std::memory_order_relaxed) + 1;
    info.created = static_cast<std::int64_t>(std::time(nullptr));
    plan.delay_before_headers = state.options.response_delay;
    plan.delay_between_chunks = state.options.chunk_delay;

    record_request(state, req);
    // The body is parsed once into a per-request arena; everything derived from it (Transcript, Reply)
    // is declared after the arena and dies before it.
    unsigned char arena_buffer[16 * 1024];
    json::monotonic_resource arena(arena_buffer, sizeof arena_buffer);
    json::value body;

    const auto format = format_for_path(path);
    if (!format) {
        set_error(plan, Format::chat,
                  WireError{404, "invalid_request_error", "unknown_url", "Unknown request URL: " + std::string(path) + ".", {}},
                  info);
        return plan;
    }
    const Format f = *format;
    add_id_headers(f, info, plan);
    const std::string query = query_of(target);
    if (f == Format::gemini) {
        info.model = gemini_model(path);
        info.gemini_sse = query_has(query, "alt=sse");
    }

    std::error_code parse_ec;
    if (!req.body().empty()) body = json::parse(req.body(), parse_ec, &arena);

    if (req.method() != http::verb::post) {
        set_error(plan, f, WireError{405, "", "", "Method not allowed: use POST.", {}}, info);
        return plan;
    }

    const std::optional<Fault> fault = state.take_fault(path);
    if (fault) {
        plan.delay_before_headers += fault->delay_before_headers;
        if (fault->delay_between_chunks.count() > 0) plan.delay_between_chunks = fault->delay_between_chunks;
        if (fault->drop_connection) {
            plan.drop = true;
            return plan;
        }
        if (fault->status >= 300 && !fault->stream_error_event) {
            set_error(plan, f, fault_error(*fault, fault->status), info);
            add_retry_headers(*fault, plan);
            if (fault->truncate_body) plan.truncate_body = true;
            return plan;
        }
    }

    if (auto err = check_auth(f, req, query, state.options.require_auth)) {
        set_error(plan, f, *err, info);
        return plan;
    }
    if (req.body().empty() || parse_ec || !body.is_object()) {
        const std::string why = parse_ec ? "We could not parse the JSON body of your request: " + parse_ec.message()
                                         : "The request body must be a JSON object.";
        set_error(plan, f, WireError{400, "", "", why, {}}, info);
        return plan;
    }

    Transcript t;
    if (auto err = parse_request(f, body.as_object(), target, t)) {
        set_error(plan, f, *err, info);
        return plan;
    }
    if (f == Format::gemini) {
        t.model = info.model;
        t.stream = path.ends_with(":streamGenerateContent");
    } else {
        info.model = t.model;
    }

    const Reply reply = run_script(t, req.body().size());
    if (t.stream) {
        plan.streaming = true;
        plan.content_type = std::string(stream_content_type(f, info));
        plan.events = render_stream(f, t, reply, info);
        if (fault) apply_stream_faults(plan, f, *fault, info);
        if (f == Format::gemini && !info.gemini_sse) frame_gemini_array(plan.events);
    } else {
        plan.body = render_json(f, t, reply, info);
        if (fault) apply_body_faults(plan, f, *fault, info);
    }
    return plan;
}

}  // namespace detail
}  // namespace alloy::mock
