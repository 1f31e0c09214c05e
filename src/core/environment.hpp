// The environment layer of settings, read once and cached (internal header).
#pragma once

#include <alloy/config.hpp>

namespace alloy::detail {

/// The `ALLOY_*` environment layer. Read on first use; a malformed variable throws its
/// ConfigurationError on every call until reload_environment() reads a fixed environment.
Settings environment_settings();

}  // namespace alloy::detail
