// Shared pieces of a command run, used by the blocking run and the streamed run (internal header).
#pragma once

#include <alloy/command.hpp>
#include <alloy/config.hpp>
#include <alloy/provider.hpp>
#include <alloy/runtime.hpp>

#include <memory>
#include <string>
#include <vector>

namespace alloy::detail {

/// Settings of one call, layered: env < configure() < runtime < command < call.
ResolvedSettings resolve_call(const CommandDef& def, const Settings& call, Runtime& runtime);

/// The resolved settings of one call and its tool list, shared rather than copied per call.
struct CallSettings {
    std::shared_ptr<const ResolvedSettings> settings;
    std::shared_ptr<const std::vector<Tool>> tools;
};

/// resolve_call, cached: a call without per-call settings reuses the resolution made for the same
/// command in the same runtime until configure(), the environment or the runtime's defaults change.
/// Resolving merges five layers of settings, which would otherwise dominate a command's own CPU cost.
CallSettings resolve_call_shared(const std::shared_ptr<const CommandDef>& def, const Settings& call,
                                 Runtime& runtime);

/// The first user message: the prompt, plus the rendered `context` when one is set.
std::string render_prompt(std::string prompt, const ResolvedSettings& settings);

/// A provider request for the current transcript.
ModelRequest build_request(const ResolvedSettings& settings, const CommandDef& def,
                           const std::vector<Message>& transcript, ToolChoice choice);

/// Tool specs declared to the model for `tools`.
std::vector<ToolSpec> tool_specs(const std::vector<Tool>& tools);

/// A fresh random run id (16 hex digits).
std::string new_run_id();

/// Whether a failed attempt is retried under `settings` (retry_on or the default policy).
bool should_retry(const ResolvedSettings& settings, std::exception_ptr error);

}  // namespace alloy::detail
