// Tracer: spans from a synthetic run, attributes, statuses; traceparent; OTLP/JSON encoding.
#include <alloy/tracing.hpp>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <map>

using namespace alloy;
using namespace std::chrono_literals;

namespace {

const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string command_span = "00f067aa0ba902b7";
const std::string attempt_span = "00f067aa0ba902b8";
const std::string request1_span = "00f067aa0ba902b9";
const std::string tool_span = "00f067aa0ba902ba";
const std::string request2_span = "00f067aa0ba902bb";

const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

Event ev(EventType type, std::string span, std::string parent, std::chrono::milliseconds at) {
    Event e;
    e.type = type;
    e.time = t0 + at;
    e.run_id = "run-7";
    e.trace_id = trace;
    e.span_id = std::move(span);
    e.parent_span_id = std::move(parent);
    e.command = "extract_invoice";
    e.model = "gpt-5-mini";
    e.provider = "openai";
    e.attempt = 1;
    return e;
}

/// command → attempt → request (tool_calls) → tool (fails its contract) → request (stop) ; a retry in between.
void feed_run(Tracer& tracer) {
    tracer.on_event(ev(EventType::command_start, command_span, "", 0ms));
    tracer.on_event(ev(EventType::attempt_start, attempt_span, command_span, 1ms));
    tracer.on_event(ev(EventType::request_start, request1_span, attempt_span, 2ms));
    Event retry = ev(EventType::retry_scheduled, request1_span, attempt_span, 5ms);
    retry.retry_level = "request";
    retry.delay = 250ms;
    retry.reason = "HTTP 529 overloaded, key sk-abcdefghijklmnopqrstu";
    tracer.on_event(retry);
    Event r1 = ev(EventType::request_end, request1_span, attempt_span, 400ms);
    r1.outcome = "ok";
    r1.http_status = 200;
    r1.request_id = "req_1";
    r1.usage = Usage{100, 20, 0, 0};
    r1.finish_reason = "tool_calls";
    r1.bytes_sent = 1000;
    r1.bytes_received = 500;
    tracer.on_event(r1);

    Event ts = ev(EventType::tool_start, tool_span, attempt_span, 401ms);
    ts.tool = "add";
    ts.tool_call_id = "call_9";
    tracer.on_event(ts);
    Event te = ev(EventType::tool_end, tool_span, attempt_span, 403ms);
    te.tool = "add";
    te.tool_call_id = "call_9";
    te.outcome = "error";
    te.error_kind = ErrorKind::other;
    te.error_message = "contract failed: b must be non-negative";
    te.contract = "b must be non-negative";
    tracer.on_event(te);

    Event rs2 = ev(EventType::request_start, request2_span, attempt_span, 404ms);
    rs2.tool_turn = 1;
    tracer.on_event(rs2);
    Event r2 = ev(EventType::request_end, request2_span, attempt_span, 900ms);
    r2.tool_turn = 1;
    r2.outcome = "ok";
    r2.http_status = 200;
    r2.usage = Usage{150, 30, 0, 0};
    r2.finish_reason = "stop";
    tracer.on_event(r2);

    Event ae = ev(EventType::attempt_end, attempt_span, command_span, 901ms);
    ae.outcome = "ok";
    tracer.on_event(ae);
    Event ce = ev(EventType::command_end, command_span, "", 902ms);
    ce.outcome = "ok";
    ce.usage = Usage{250, 50, 0, 0};
    tracer.on_event(ce);
}

std::map<std::string, Span> by_id(const std::vector<Span>& spans) {
    std::map<std::string, Span> out;
    for (const auto& s : spans) out[s.span_id] = s;
    return out;
}

template <class T>
T attr(const Span& span, std::string_view key) {
    const AttributeValue* value = span.attribute(key);
    INFO(span.name << " / " << key);
    REQUIRE(value != nullptr);
    REQUIRE(std::holds_alternative<T>(*value));
    return std::get<T>(*value);
}

}  // namespace

TEST_CASE("tracer: spans of a run with parent links, names and kinds", "[observe]") {
    auto exporter = std::make_shared<InMemorySpanExporter>();
    Tracer tracer(exporter);
    feed_run(tracer);
    CHECK(tracer.open_spans() == 0);
    const auto spans = exporter->spans();
    REQUIRE(spans.size() == 5);
    // Exported as they complete: children before their parents.
    CHECK(spans.front().span_id == request1_span);
    CHECK(spans.back().span_id == command_span);

    auto s = by_id(spans);
    for (const auto& [id, span] : s) CHECK(span.trace_id == trace);
    CHECK(s[command_span].parent_span_id.empty());
    CHECK(s[attempt_span].parent_span_id == command_span);
    CHECK(s[request1_span].parent_span_id == attempt_span);
    CHECK(s[tool_span].parent_span_id == attempt_span);
    CHECK(s[request2_span].parent_span_id == attempt_span);

    CHECK(s[command_span].name == "command extract_invoice");
    CHECK(s[attempt_span].name == "attempt 1");
    CHECK(s[request1_span].name == "chat gpt-5-mini");
    CHECK(s[tool_span].name == "execute_tool add");
    CHECK(s[request1_span].kind == SpanKind::client);
    CHECK(s[tool_span].kind == SpanKind::internal);
    CHECK(s[command_span].kind == SpanKind::internal);

    CHECK(s[command_span].start == t0);
    CHECK(s[command_span].end == t0 + 902ms);
    CHECK(s[request1_span].start == t0 + 2ms);
    CHECK(s[request1_span].end == t0 + 400ms);
}

TEST_CASE("tracer: gen_ai and alloy attributes, statuses", "[observe]") {
    auto exporter = std::make_shared<InMemorySpanExporter>();
    Tracer tracer(exporter);
    feed_run(tracer);
    auto s = by_id(exporter->spans());

    const Span& r1 = s[request1_span];
    CHECK(attr<std::string>(r1, "gen_ai.request.model") == "gpt-5-mini");
    CHECK(attr<std::string>(r1, "gen_ai.provider.name") == "openai");
    CHECK(attr<std::string>(r1, "gen_ai.operation.name") == "chat");
    CHECK(attr<std::int64_t>(r1, "gen_ai.usage.input_tokens") == 100);
    CHECK(attr<std::int64_t>(r1, "gen_ai.usage.output_tokens") == 20);
    CHECK(attr<std::vector<std::string>>(r1, "gen_ai.response.finish_reasons") == std::vector<std::string>{"tool_calls"});
    CHECK(attr<std::string>(r1, "gen_ai.response.id") == "req_1");
    CHECK(attr<std::int64_t>(r1, "http.response.status_code") == 200);
    CHECK(attr<std::int64_t>(r1, "http.request.body.size") == 1000);
    CHECK(attr<std::string>(r1, "alloy.command") == "extract_invoice");
    CHECK(attr<std::int64_t>(r1, "alloy.attempt") == 1);
    CHECK(r1.status == SpanStatus::ok);
    CHECK(attr<std::int64_t>(s[request2_span], "alloy.tool_turn") == 1);

    // The retry became a span event, its reason masked.
    REQUIRE(r1.events.size() == 1);
    CHECK(r1.events[0].name == "retry");
    CHECK(r1.events[0].time == t0 + 5ms);
    bool reason_seen = false;
    for (const auto& a : r1.events[0].attributes) {
        if (a.key == "alloy.retry.reason") {
            reason_seen = true;
            CHECK(std::get<std::string>(a.value).find("sk-abc") == std::string::npos);
        }
        if (a.key == "alloy.retry.delay_ms") CHECK(std::get<std::int64_t>(a.value) == 250);
    }
    CHECK(reason_seen);

    const Span& tool = s[tool_span];
    CHECK(attr<std::string>(tool, "alloy.tool") == "add");
    CHECK(attr<std::string>(tool, "gen_ai.tool.name") == "add");
    CHECK(attr<std::string>(tool, "gen_ai.tool.call.id") == "call_9");
    CHECK(attr<std::string>(tool, "alloy.contract") == "b must be non-negative");
    CHECK(attr<std::string>(tool, "error.type") == "other");
    CHECK(tool.status == SpanStatus::error);
    CHECK(tool.status_message == "contract failed: b must be non-negative");

    const Span& command = s[command_span];
    CHECK(attr<std::int64_t>(command, "gen_ai.usage.input_tokens") == 250);
    CHECK(attr<std::string>(command, "alloy.run_id") == "run-7");
    CHECK(command.attribute("http.response.status_code") == nullptr);
    CHECK(command.status == SpanStatus::ok);
}

TEST_CASE("tracer: failed and cancelled spans, end without start, ignored events", "[observe]") {
    auto exporter = std::make_shared<InMemorySpanExporter>();
    Tracer tracer(exporter);

    tracer.on_event(ev(EventType::request_start, request1_span, attempt_span, 0ms));
    Event failed = ev(EventType::request_end, request1_span, attempt_span, 30ms);
    failed.outcome = "error";
    failed.http_status = 503;
    failed.error_message = "service unavailable; Authorization: Bearer abc.def.ghi";
    tracer.on_event(failed);

    Event orphan = ev(EventType::command_end, command_span, "", 1000ms);  // start never seen
    orphan.outcome = "cancelled";
    orphan.duration = 400ms;
    tracer.on_event(orphan);

    Event no_id = ev(EventType::command_start, "", "", 0ms);
    tracer.on_event(no_id);

    auto s = by_id(exporter->spans());
    REQUIRE(s.size() == 2);
    CHECK(s[request1_span].status == SpanStatus::error);
    CHECK(attr<std::string>(s[request1_span], "error.type") == "503");
    CHECK(s[request1_span].status_message.find("abc.def.ghi") == std::string::npos);
    CHECK(s[command_span].status == SpanStatus::unset);
    CHECK(attr<std::string>(s[command_span], "alloy.outcome") == "cancelled");
    CHECK(s[command_span].start == t0 + 600ms);
    CHECK(tracer.open_spans() == 0);
}

TEST_CASE("tracer: open spans are bounded", "[observe]") {
    auto exporter = std::make_shared<InMemorySpanExporter>();
    Tracer tracer(exporter, TracerOptions{.max_open_spans = 2});
    tracer.on_event(ev(EventType::command_start, "0000000000000001", "", 0ms));
    tracer.on_event(ev(EventType::command_start, "0000000000000002", "", 0ms));
    tracer.on_event(ev(EventType::command_start, "0000000000000003", "", 0ms));
    CHECK(tracer.open_spans() == 2);
    CHECK(tracer.untracked_spans() == 1);
}

TEST_CASE("traceparent: W3C header from an event", "[observe]") {
    Event e = ev(EventType::request_start, "00f067aa0ba902b7", "", 0ms);
    CHECK(traceparent(e) == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    e.span_id = "0000000000000000";
    CHECK(traceparent(e).empty());
    e.span_id = "00F067AA0BA902B7";  // upper case is not valid W3C
    CHECK(traceparent(e).empty());
    e.span_id = "00f067aa0ba902b7";
    e.trace_id = "short";
    CHECK(traceparent(e).empty());
}

TEST_CASE("otlp_json: ExportTraceServiceRequest shape", "[observe]") {
    auto exporter = std::make_shared<InMemorySpanExporter>();
    Tracer tracer(exporter);
    feed_run(tracer);
    const auto body = boost::json::parse(otlp_json(exporter->spans(), "billing")).as_object();
    const auto& rs = body.at("resourceSpans").as_array().at(0).as_object();
    const auto& resource_attr = rs.at("resource").at("attributes").as_array().at(0).as_object();
    CHECK(resource_attr.at("key") == "service.name");
    CHECK(resource_attr.at("value").at("stringValue") == "billing");
    const auto& scope_spans = rs.at("scopeSpans").as_array().at(0).as_object();
    CHECK(scope_spans.at("scope").at("name") == "alloy-cpp");
    CHECK(scope_spans.at("scope").at("version") == "0.1.0");
    const auto& spans = scope_spans.at("spans").as_array();
    REQUIRE(spans.size() == 5);

    const auto& request = spans.at(0).as_object();
    CHECK(request.at("traceId").as_string() == trace);
    CHECK(request.at("spanId").as_string() == request1_span);
    CHECK(request.at("parentSpanId").as_string() == attempt_span);
    CHECK(request.at("name") == "chat gpt-5-mini");
    CHECK(request.at("kind") == 3);
    CHECK(request.at("startTimeUnixNano") == "1700000000002000000");
    CHECK(request.at("endTimeUnixNano") == "1700000000400000000");
    CHECK(request.at("status").at("code") == 1);
    std::map<std::string, boost::json::object> attrs;
    for (const auto& a : request.at("attributes").as_array())
        attrs[std::string(a.at("key").as_string())] = a.at("value").as_object();
    CHECK(attrs.at("gen_ai.usage.input_tokens").at("intValue") == "100");
    CHECK(attrs.at("gen_ai.request.model").at("stringValue") == "gpt-5-mini");
    CHECK(attrs.at("gen_ai.response.finish_reasons").at("arrayValue").at("values").as_array().at(0).at("stringValue") ==
          "tool_calls");
    CHECK(request.at("events").as_array().at(0).at("name") == "retry");

    const auto& tool = spans.at(1).as_object();
    CHECK(tool.at("kind") == 1);
    CHECK(tool.at("status").at("code") == 2);
    CHECK(tool.at("status").at("message") == "contract failed: b must be non-negative");

    const auto& command = spans.at(4).as_object();
    CHECK_FALSE(command.contains("parentSpanId"));

    // Attribute value types.
    Span typed;
    typed.set_attribute("d", 1.5);
    typed.set_attribute("b", true);
    typed.set_attribute("b", false);  // replaces
    const auto typed_body = boost::json::parse(otlp_json({typed}, "s"));
    const auto& typed_attrs = typed_body.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").at(0).at("attributes").as_array();
    REQUIRE(typed_attrs.size() == 2);
    CHECK(typed_attrs.at(0).at("value").at("doubleValue") == 1.5);
    CHECK(typed_attrs.at(1).at("value").at("boolValue") == false);
}
