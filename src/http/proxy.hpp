// Proxy selection from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (internal header).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace alloy::http {

/// Proxy settings as found in the environment. Empty strings mean "no proxy".
struct ProxyConfig {
    std::string http_proxy;   ///< proxy URL for http:// requests (HTTP_PROXY / http_proxy)
    std::string https_proxy;  ///< proxy URL for https:// requests (HTTPS_PROXY / https_proxy)
    std::string no_proxy;     ///< comma list of hosts that bypass the proxy (NO_PROXY / no_proxy)

    /// Reads the variables through `getenv`; the upper-case name wins over the lower-case one.
    static ProxyConfig from_env(const std::function<const char*(const char*)>& getenv);
    /// Reads the process environment.
    static ProxyConfig from_env();
};

/// Where and how to reach a proxy. `authorization` is the Proxy-Authorization value ("Basic ...") or
/// empty; it is a secret and never logged.
struct ProxyEndpoint {
    std::string host;
    std::uint16_t port = 0;
    bool ipv6 = false;
    std::string authorization;
};

/// True when NO_PROXY (`no_proxy`) exempts `host`:`port`. Entries are separated by commas (spaces
/// ignored): `*` matches everything; `name` matches the host and its subdomains (a leading '.' is
/// ignored, so `.example.com` and `example.com` match both `example.com` and `a.example.com`);
/// `name:port` matches only that port; IP addresses match exactly (IPv6 in brackets when a port is
/// given). Loopback is not special. Comparison is case-insensitive.
bool proxy_bypassed(std::string_view no_proxy, std::string_view host, std::uint16_t port);

/// The proxy to use for a request to `scheme`://`host`:`port`, or std::nullopt for a direct
/// connection. Throws alloy::ConfigurationError when the configured proxy URL is malformed.
std::optional<ProxyEndpoint> proxy_for(const ProxyConfig& config, std::string_view scheme,
                                       std::string_view host, std::uint16_t port);

}  // namespace alloy::http
