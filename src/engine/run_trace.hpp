// Event reporting for one run: ids, span nesting and the common fields (internal header).
#pragma once

#include <alloy/observe.hpp>
#include <alloy/runtime.hpp>

#include <chrono>
#include <string>

namespace alloy::detail {

/// 16 random hex digits (a W3C span id).
std::string new_span_id();
/// 32 random hex digits (a W3C trace id).
std::string new_trace_id();

/// What every event of a run shares. Building events is skipped entirely when nobody observes.
struct RunTrace {
    Runtime* runtime = nullptr;
    std::string run_id;
    std::string trace_id;
    std::string command_span;
    std::string command;
    std::string model;
    std::string provider;
    bool content = false;  ///< content capture on

    bool on() const noexcept { return runtime->observed(); }
    /// An event of `type` for span `span` under `parent`, with the run's common fields filled in.
    Event make(EventType type, const std::string& span, const std::string& parent) const;
    void emit(const Event& e) const noexcept { runtime->emit(e); }
    /// Fills outcome, error kind and message of an *_end event from a failure.
    static void describe_failure(Event& e, std::exception_ptr failure, bool cancelled);
};

/// Seconds since `start` as a duration for events.
inline std::chrono::nanoseconds since(std::chrono::steady_clock::time_point start) {
    return std::chrono::steady_clock::now() - start;
}

}  // namespace alloy::detail
