#include "engine/run_trace.hpp"

#include <random>

namespace alloy::detail {
namespace {

std::string random_hex(std::size_t digits) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(digits, '0');
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        if (i % 16 == 0) bits = rng();
        out[i] = hex[bits & 0xf];
        bits >>= 4;
    }
    return out;
}

}  // namespace

std::string new_span_id() { return random_hex(16); }
std::string new_trace_id() { return random_hex(32); }

Event RunTrace::make(EventType type, const std::string& span, const std::string& parent) const {
    Event e;
    e.type = type;
    e.run_id = run_id;
    e.trace_id = trace_id;
    e.span_id = span;
    e.parent_span_id = parent;
    e.command = command;
    e.model = model;
    e.provider = provider;
    return e;
}

void RunTrace::describe_failure(Event& e, std::exception_ptr failure, bool cancelled) {
    e.outcome = cancelled ? "cancelled" : "error";
    try {
        std::rethrow_exception(failure);
    } catch (const CommandError& err) {
        e.error_kind = err.kind();
        e.error_message = err.what();
        e.http_status = err.diagnostics().http_status;
        e.request_id = err.diagnostics().request_id;
    } catch (const std::exception& err) {
        e.error_kind = cancelled ? ErrorKind::cancelled : ErrorKind::other;
        e.error_message = err.what();
    } catch (...) {
        e.error_kind = ErrorKind::other;
        e.error_message = "unknown exception";
    }
    if (cancelled) e.error_kind = ErrorKind::cancelled;
}

}  // namespace alloy::detail
