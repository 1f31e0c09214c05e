// The commands alloy-bench runs, and the provider wrapper that times each request.
#pragma once

#include "metrics.hpp"
#include "options.hpp"

#include <alloy/provider.hpp>
#include <alloy/runtime.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace bench {

/// The recorder of the calling client thread; each io thread installs its own.
Recorder*& thread_recorder();

/// Wraps `inner` so that every request is timed and counted in the calling thread's recorder.
std::shared_ptr<alloy::Provider> timed(std::shared_ptr<alloy::Provider> inner);

/// Runs one command of `scenario` in `rt` through the public API and records its outcome (latency,
/// tokens, error kind) in the calling thread's recorder. Never throws.
boost::asio::awaitable<void> run_one(Scenario scenario, alloy::Runtime& rt);

}  // namespace bench
