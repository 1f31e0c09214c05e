// The environment layer of settings, read once and cached (internal header).
#pragma once

#include <alloy/config.hpp>

#include <cstdint>

namespace alloy::detail {

/// The `ALLOY_*` environment layer. Read on first use; a malformed variable throws its
/// ConfigurationError on every call until reload_environment() reads a fixed environment.
Settings environment_settings();

/// Bumped whenever a settings layer below the command changes (configure(), reload_environment(),
/// a Runtime's defaults), so cached resolutions know they are stale.
std::uint64_t settings_generation() noexcept;
void bump_settings_generation() noexcept;

/// True when no field of `settings` is set (a call without per-call overrides).
bool is_unset(const Settings& settings);

}  // namespace alloy::detail
