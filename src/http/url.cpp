#include "http/url.hpp"

#include <alloy/errors.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>

namespace alloy::http {

std::string Url::authority() const {
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Url::host_header() const {
    const std::string bracketed = ipv6 ? "[" + host + "]" : host;
    const bool default_port = (tls() && port == 443) || (!tls() && port == 80);
    return default_port ? bracketed : bracketed + ":" + std::to_string(port);
}

std::string Url::absolute_form() const { return scheme + "://" + host_header() + target; }

Url parse_url(std::string_view text) {
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) throw ConfigurationError("malformed URL: " + parsed.error().message());
    const boost::urls::url_view& view = *parsed;
    Url url;
    url.scheme = std::string(view.scheme());
    std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (url.scheme != "http" && url.scheme != "https")
        throw ConfigurationError("unsupported URL scheme '" + url.scheme + "' (only http and https)");
    std::string host(view.encoded_host());
    if (host.empty()) throw ConfigurationError("URL without a host");
    if (view.host_type() == boost::urls::host_type::ipv6 || view.host_type() == boost::urls::host_type::ipvfuture) {
        url.ipv6 = true;
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    } else {
        std::transform(host.begin(), host.end(), host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    url.host = std::move(host);
    if (view.has_port()) {
        if (view.port().empty() || view.port_number() == 0)
            throw ConfigurationError("URL with an invalid port for host " + url.host);
        url.port = view.port_number();
    } else {
        url.port = url.tls() ? 443 : 80;
    }
    url.target = std::string(view.encoded_path());
    if (url.target.empty()) url.target = "/";
    if (view.has_query()) url.target += "?" + std::string(view.encoded_query());
    return url;
}

}  // namespace alloy::http
