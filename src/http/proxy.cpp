#include "http/proxy.hpp"

#include "http/url.hpp"

#include <alloy/errors.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace alloy::http {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

std::string first_env(const std::function<const char*(const char*)>& getenv, const char* upper,
                      const char* lower_name) {
    const char* value = getenv(upper);
    if (value == nullptr || *value == '\0') value = getenv(lower_name);
    return value == nullptr ? std::string{} : std::string(value);
}

std::string base64(std::string_view in) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (i + 1 == in.size()) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

/// Matches one NO_PROXY entry (already trimmed and lower-cased) against a lower-cased host.
bool entry_matches(std::string_view entry, std::string_view host, std::uint16_t port) {
    if (entry == "*") return true;
    // Split an optional ":port"; "[v6]:port" and "[v6]" keep brackets off the host part.
    std::string_view name = entry;
    std::optional<std::string_view> entry_port;
    if (!name.empty() && name.front() == '[') {
        const std::size_t close = name.find(']');
        if (close == std::string_view::npos) return false;
        if (close + 1 < name.size() && name[close + 1] == ':') entry_port = name.substr(close + 2);
        name = name.substr(1, close - 1);
    } else if (std::count(name.begin(), name.end(), ':') == 1) {
        const std::size_t colon = name.find(':');
        entry_port = name.substr(colon + 1);
        name = name.substr(0, colon);
    }
    if (entry_port && *entry_port != std::to_string(port)) return false;
    if (!name.empty() && name.front() == '.') name.remove_prefix(1);
    if (name.empty()) return false;
    if (host == name) return true;
    return host.size() > name.size() && host.substr(host.size() - name.size()) == name &&
           host[host.size() - name.size() - 1] == '.';
}

}  // namespace

ProxyConfig ProxyConfig::from_env(const std::function<const char*(const char*)>& getenv) {
    ProxyConfig config;
    config.http_proxy = first_env(getenv, "HTTP_PROXY", "http_proxy");
    config.https_proxy = first_env(getenv, "HTTPS_PROXY", "https_proxy");
    config.no_proxy = first_env(getenv, "NO_PROXY", "no_proxy");
    return config;
}

ProxyConfig ProxyConfig::from_env() {
    return from_env([](const char* name) { return std::getenv(name); });
}

bool proxy_bypassed(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
    const std::string host_lower = lower(host);
    std::string_view host_view = host_lower;
    if (host_view.size() >= 2 && host_view.front() == '[' && host_view.back() == ']')
        host_view = host_view.substr(1, host_view.size() - 2);
    if (!host_view.empty() && host_view.back() == '.') host_view.remove_suffix(1);
    std::size_t pos = 0;
    while (pos <= no_proxy.size()) {
        const std::size_t comma = std::min(no_proxy.find(',', pos), no_proxy.size());
        const std::string entry = lower(trim(no_proxy.substr(pos, comma - pos)));
        if (!entry.empty() && entry_matches(entry, host_view, port)) return true;
        pos = comma + 1;
    }
    return false;
}

std::optional<ProxyEndpoint> proxy_for(const ProxyConfig& config, std::string_view scheme,
                                       std::string_view host, std::uint16_t port) {
    const std::string& proxy_url = scheme == "https" ? config.https_proxy : config.http_proxy;
    if (proxy_url.empty() || proxy_bypassed(config.no_proxy, host, port)) return std::nullopt;
    // A proxy given as "host:port" without a scheme means an http:// proxy.
    std::string text = proxy_url.find("://") == std::string::npos ? "http://" + proxy_url : proxy_url;
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) throw ConfigurationError("malformed proxy URL in the environment");
    if (lower(parsed->scheme()) != "http")
        throw ConfigurationError("unsupported proxy scheme '" + std::string(parsed->scheme()) +
                                 "' (only http:// proxies)");
    ProxyEndpoint endpoint;
    // Parse host and port like a request URL, without the credentials.
    std::string without_userinfo = "http://" + std::string(parsed->encoded_host_and_port());
    const Url url = parse_url(without_userinfo);
    endpoint.host = url.host;
    endpoint.port = parsed->has_port() ? url.port : 80;
    endpoint.ipv6 = url.ipv6;
    if (parsed->has_userinfo()) {
        const std::string credentials = std::string(parsed->user()) + ":" + std::string(parsed->password());
        endpoint.authorization = "Basic " + base64(credentials);
    }
    return endpoint;
}

}  // namespace alloy::http
