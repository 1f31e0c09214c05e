// Deterministic sample values for a JSON Schema: what the scripted model "answers" for typed requests and
// tool arguments. The rules are listed in alloy/mock/server.hpp.
#pragma once

#include <boost/json/value.hpp>

namespace alloy::mock::detail {

/// A value valid for `schema` (JSON Schema, or the Gemini OpenAPI subset with upper-case type names).
/// Never throws on odd schemas: unknown or unresolvable parts produce "x" or null.
boost::json::value value_for_schema(const boost::json::value& schema);

}  // namespace alloy::mock::detail
