// alloy-cpp: call large language models as typed C++ functions.
// The umbrella header; each concept also has its own header.
#pragma once

#include <alloy/command.hpp>
#include <alloy/config.hpp>
#include <alloy/errors.hpp>
#include <alloy/json.hpp>
#include <alloy/logging.hpp>
#include <alloy/metrics.hpp>
#include <alloy/provider.hpp>
#include <alloy/runtime.hpp>
#include <alloy/schema.hpp>
#include <alloy/stream.hpp>
#include <alloy/tool.hpp>
#include <alloy/tracing.hpp>
