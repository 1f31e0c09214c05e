// The offline `fake` backend (ALLOY_BACKEND=fake): schema-driven placeholder answers, never calls
// tools, never touches the network. Internal header.
#pragma once

#include <alloy/provider.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <memory>

namespace alloy::detail {

/// A deterministic placeholder value valid for `schema` (strings "example", numbers 0, first enum value,
/// one-item arrays, every property of objects, the first branch of anyOf).
boost::json::value placeholder_for_schema(const boost::json::value& schema);

std::shared_ptr<Provider> make_fake_provider();

}  // namespace alloy::detail
