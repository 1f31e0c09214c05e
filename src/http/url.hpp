// Absolute http/https URLs split into what the transport needs (internal header).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace alloy::http {

/// The parts of an absolute http:// or https:// URL.
struct Url {
    std::string scheme;  ///< "http" or "https", lower-case
    std::string host;    ///< host name or IP address, without brackets for IPv6
    std::uint16_t port = 0;  ///< explicit port, else 80 / 443
    std::string target;  ///< origin-form request target: path (at least "/") and query
    bool ipv6 = false;   ///< host is an IPv6 literal

    bool tls() const noexcept { return scheme == "https"; }
    /// "host:port" (IPv6 in brackets): used for CONNECT, pool keys and error messages.
    std::string authority() const;
    /// Value of the Host header: the port is omitted when it is the scheme's default.
    std::string host_header() const;
    /// Absolute-form target for requests through a plain-HTTP proxy.
    std::string absolute_form() const;
};

/// Parses an absolute URL with Boost.URL. Throws alloy::ConfigurationError for a malformed URL or a
/// scheme other than http/https. The message names the scheme and host only (queries may hold keys).
Url parse_url(std::string_view text);

}  // namespace alloy::http
