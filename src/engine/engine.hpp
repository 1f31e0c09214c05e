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
