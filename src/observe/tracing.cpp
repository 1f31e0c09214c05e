// Tracer: pairs start/end events into spans; traceparent; the in-memory exporter; OTLP/JSON encoding.
#include <alloy/errors.hpp>
#include <alloy/logging.hpp>
#include <alloy/tracing.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <utility>

namespace alloy {

const AttributeValue* Span::attribute(std::string_view key) const {
    for (const auto& a : attributes)
        if (a.key == key) return &a.value;
    return nullptr;
}

void Span::set_attribute(std::string key, AttributeValue value) {
    for (auto& a : attributes) {
        if (a.key == key) {
            a.value = std::move(value);
            return;
        }
    }
    attributes.push_back({std::move(key), std::move(value)});
}

void InMemorySpanExporter::export_spans(std::vector<Span> spans) {
    std::lock_guard lock(mutex_);
    for (auto& span : spans) spans_.push_back(std::move(span));
}

std::vector<Span> InMemorySpanExporter::spans() const {
    std::lock_guard lock(mutex_);
    return spans_;
}

void InMemorySpanExporter::clear() {
    std::lock_guard lock(mutex_);
    spans_.clear();
}

namespace {

bool is_start(EventType t) noexcept {
    return t == EventType::command_start || t == EventType::attempt_start || t == EventType::request_start ||
           t == EventType::tool_start;
}
bool is_end(EventType t) noexcept {
    return t == EventType::command_end || t == EventType::attempt_end || t == EventType::request_end ||
           t == EventType::tool_end;
}

std::string span_name(const Event& e) {
    switch (e.type) {
    case EventType::command_start:
    case EventType::command_end: return "command " + e.command;
    case EventType::attempt_start:
    case EventType::attempt_end: return "attempt " + std::to_string(e.attempt);
    case EventType::request_start:
    case EventType::request_end: return e.model.empty() ? std::string("chat") : "chat " + e.model;
    case EventType::tool_start:
    case EventType::tool_end: return "execute_tool " + e.tool;
    default: return std::string(to_string(e.type));
    }
}

bool is_request(EventType t) noexcept { return t == EventType::request_start || t == EventType::request_end; }
bool is_tool(EventType t) noexcept { return t == EventType::tool_start || t == EventType::tool_end; }

/// Attributes known at the start (and repeated on the end event): identity of the operation.
void identity_attributes(Span& span, const Event& e) {
    if (!e.command.empty()) span.set_attribute("alloy.command", e.command);
    if (!e.run_id.empty()) span.set_attribute("alloy.run_id", e.run_id);
    if (!e.model.empty()) span.set_attribute("gen_ai.request.model", e.model);
    if (!e.provider.empty()) span.set_attribute("gen_ai.provider.name", e.provider);
    if (e.attempt > 0) span.set_attribute("alloy.attempt", std::int64_t{e.attempt});
    if (is_request(e.type)) {
        span.set_attribute("gen_ai.operation.name", std::string("chat"));
        span.set_attribute("alloy.tool_turn", std::int64_t{e.tool_turn});
    }
    if (is_tool(e.type)) {
        span.set_attribute("gen_ai.operation.name", std::string("execute_tool"));
        if (!e.tool.empty()) {
            span.set_attribute("alloy.tool", e.tool);
            span.set_attribute("gen_ai.tool.name", e.tool);
        }
        if (!e.tool_call_id.empty()) span.set_attribute("gen_ai.tool.call.id", e.tool_call_id);
    }
}

void outcome_attributes(Span& span, const Event& e, const Redactor& redactor) {
    if (!e.outcome.empty()) span.set_attribute("alloy.outcome", e.outcome);
    if (e.http_status > 0) span.set_attribute("http.response.status_code", std::int64_t{e.http_status});
    if (!e.request_id.empty()) span.set_attribute("gen_ai.response.id", e.request_id);
    if (e.bytes_sent > 0) span.set_attribute("http.request.body.size", static_cast<std::int64_t>(e.bytes_sent));
    if (e.bytes_received > 0)
        span.set_attribute("http.response.body.size", static_cast<std::int64_t>(e.bytes_received));
    const Usage& u = e.usage;
    if (u.input_tokens != 0 || u.output_tokens != 0) {
        span.set_attribute("gen_ai.usage.input_tokens", u.input_tokens);
        span.set_attribute("gen_ai.usage.output_tokens", u.output_tokens);
    }
    if (u.cached_tokens != 0) span.set_attribute("alloy.usage.cached_tokens", u.cached_tokens);
    if (u.reasoning_tokens != 0) span.set_attribute("alloy.usage.reasoning_tokens", u.reasoning_tokens);
    if (!e.finish_reason.empty())
        span.set_attribute("gen_ai.response.finish_reasons", std::vector<std::string>{e.finish_reason});
    if (!e.contract.empty()) span.set_attribute("alloy.contract", redactor.mask_text(e.contract));

    if (e.outcome == "error") {
        span.status = SpanStatus::error;
        span.status_message = redactor.mask_text(e.error_message);
        std::string type = e.error_kind         ? std::string(to_string(*e.error_kind))
                           : e.http_status >= 400 ? std::to_string(e.http_status)
                                                  : std::string("other");
        span.set_attribute("error.type", std::move(type));
    } else if (e.outcome == "ok") {
        span.status = SpanStatus::ok;
    }
}

SpanEvent span_event(const Event& e, const Redactor& redactor) {
    SpanEvent out;
    out.time = e.time;
    switch (e.type) {
    case EventType::retry_scheduled:
        out.name = "retry";
        out.attributes.push_back({"alloy.retry.level", e.retry_level});
        out.attributes.push_back({"alloy.retry.delay_ms", static_cast<std::int64_t>(e.delay.count())});
        if (!e.reason.empty()) out.attributes.push_back({"alloy.retry.reason", redactor.mask_text(e.reason)});
        if (e.error_kind) out.attributes.push_back({"error.type", std::string(to_string(*e.error_kind))});
        break;
    case EventType::stream_first_chunk:
        out.name = "first_chunk";
        out.attributes.push_back(
            {"alloy.time_to_first_token_ms", std::chrono::duration<double, std::milli>(e.duration).count()});
        break;
    case EventType::stream_end:
        out.name = "stream_end";
        out.attributes.push_back({"alloy.stream.chunks", static_cast<std::int64_t>(e.chunks)});
        if (!e.outcome.empty()) out.attributes.push_back({"alloy.outcome", e.outcome});
        break;
    default: out.name = std::string(to_string(e.type)); break;
    }
    return out;
}

}  // namespace

struct Tracer::Impl {
    std::shared_ptr<SpanExporter> exporter;
    TracerOptions options;
    Redactor redactor{RedactionOptions{.fields = {}, .patterns = {}, .emails = true, .card_numbers = true, .mask = "***"}};
    mutable std::mutex mutex;
    std::unordered_map<std::string, Span> open;
    std::size_t untracked = 0;
};

Tracer::Tracer(std::shared_ptr<SpanExporter> exporter, TracerOptions options) : impl_(std::make_unique<Impl>()) {
    if (!exporter) throw ConfigurationError("Tracer needs an exporter");
    impl_->exporter = std::move(exporter);
    impl_->options = options;
}

Tracer::~Tracer() = default;

void Tracer::on_event(const Event& e) {
    if (e.span_id.empty()) return;
    Impl& m = *impl_;
    if (is_start(e.type)) {
        Span span;
        span.trace_id = e.trace_id;
        span.span_id = e.span_id;
        span.parent_span_id = e.parent_span_id;
        span.name = span_name(e);
        span.kind = is_request(e.type) ? SpanKind::client : SpanKind::internal;
        span.start = e.time;
        identity_attributes(span, e);
        std::lock_guard lock(m.mutex);
        if (m.open.size() >= m.options.max_open_spans && !m.open.count(e.span_id)) {
            ++m.untracked;
            return;
        }
        m.open[e.span_id] = std::move(span);
        return;
    }
    if (is_end(e.type)) {
        Span span;
        {
            std::lock_guard lock(m.mutex);
            auto it = m.open.find(e.span_id);
            if (it != m.open.end()) {
                span = std::move(it->second);
                m.open.erase(it);
            } else {
                span.trace_id = e.trace_id;
                span.span_id = e.span_id;
                span.parent_span_id = e.parent_span_id;
                span.name = span_name(e);
                span.kind = is_request(e.type) ? SpanKind::client : SpanKind::internal;
                span.start = e.time - std::chrono::duration_cast<std::chrono::system_clock::duration>(e.duration);
            }
        }
        identity_attributes(span, e);
        outcome_attributes(span, e, m.redactor);
        span.end = e.time;
        std::vector<Span> batch;
        batch.push_back(std::move(span));
        m.exporter->export_spans(std::move(batch));
        return;
    }
    // Point events: attach to their own span if open, else to the parent.
    SpanEvent point = span_event(e, m.redactor);
    std::lock_guard lock(m.mutex);
    auto it = m.open.find(e.span_id);
    if (it == m.open.end() && !e.parent_span_id.empty()) it = m.open.find(e.parent_span_id);
    if (it == m.open.end()) return;
    if (e.type == EventType::stream_end) it->second.set_attribute("alloy.stream.chunks", static_cast<std::int64_t>(e.chunks));
    it->second.events.push_back(std::move(point));
}

std::size_t Tracer::open_spans() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->open.size();
}

std::size_t Tracer::untracked_spans() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->untracked;
}

namespace {

bool lower_hex_id(std::string_view id, std::size_t length) {
    if (id.size() != length) return false;
    bool nonzero = false;
    for (char c : id) {
        const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (!hex) return false;
        nonzero = nonzero || c != '0';
    }
    return nonzero;
}

std::string unix_nanos(std::chrono::system_clock::time_point t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

boost::json::object otlp_value(const AttributeValue& value) {
    struct Visitor {
        boost::json::object operator()(const std::string& s) const { return {{"stringValue", sanitize_utf8(s)}}; }
        boost::json::object operator()(std::int64_t i) const { return {{"intValue", std::to_string(i)}}; }
        boost::json::object operator()(double d) const { return {{"doubleValue", d}}; }
        boost::json::object operator()(bool b) const { return {{"boolValue", b}}; }
        boost::json::object operator()(const std::vector<std::string>& list) const {
            boost::json::array values;
            for (const auto& s : list) values.push_back(boost::json::object{{"stringValue", sanitize_utf8(s)}});
            return {{"arrayValue", boost::json::object{{"values", std::move(values)}}}};
        }
    };
    return std::visit(Visitor{}, value);
}

boost::json::array otlp_attributes(const std::vector<SpanAttribute>& attributes) {
    boost::json::array out;
    out.reserve(attributes.size());
    for (const auto& a : attributes)
        out.push_back(boost::json::object{{"key", sanitize_utf8(a.key)}, {"value", otlp_value(a.value)}});
    return out;
}

}  // namespace

std::string traceparent(const Event& event) {
    if (!lower_hex_id(event.trace_id, 32) || !lower_hex_id(event.span_id, 16)) return {};
    return "00-" + event.trace_id + "-" + event.span_id + "-01";
}

std::string otlp_json(const std::vector<Span>& spans, std::string_view service_name) {
    boost::json::array json_spans;
    json_spans.reserve(spans.size());
    for (const auto& s : spans) {
        boost::json::object span{
            {"traceId", sanitize_utf8(s.trace_id)},
            {"spanId", sanitize_utf8(s.span_id)},
            {"name", sanitize_utf8(s.name)},
            {"kind", static_cast<int>(s.kind)},
            {"startTimeUnixNano", unix_nanos(s.start)},
            {"endTimeUnixNano", unix_nanos(s.end)},
            {"attributes", otlp_attributes(s.attributes)},
        };
        if (!s.parent_span_id.empty()) span["parentSpanId"] = sanitize_utf8(s.parent_span_id);
        if (!s.events.empty()) {
            boost::json::array events;
            for (const auto& e : s.events)
                events.push_back(boost::json::object{{"timeUnixNano", unix_nanos(e.time)},
                                                     {"name", sanitize_utf8(e.name)},
                                                     {"attributes", otlp_attributes(e.attributes)}});
            span["events"] = std::move(events);
        }
        boost::json::object status{{"code", static_cast<int>(s.status)}};
        if (!s.status_message.empty()) status["message"] = sanitize_utf8(s.status_message);
        span["status"] = std::move(status);
        json_spans.push_back(std::move(span));
    }
    boost::json::object resource{
        {"attributes", boost::json::array{boost::json::object{
                           {"key", "service.name"},
                           {"value", boost::json::object{{"stringValue", sanitize_utf8(service_name)}}}}}}};
    boost::json::object scope_spans{{"scope", boost::json::object{{"name", "alloy-cpp"}, {"version", "0.1.0"}}},
                                    {"spans", std::move(json_spans)}};
    boost::json::object resource_spans{{"resource", std::move(resource)},
                                       {"scopeSpans", boost::json::array{std::move(scope_spans)}}};
    boost::json::object body{{"resourceSpans", boost::json::array{std::move(resource_spans)}}};
    return boost::json::serialize(body);
}

}  // namespace alloy
