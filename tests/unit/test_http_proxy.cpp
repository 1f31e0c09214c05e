// URL parsing and proxy selection (NO_PROXY matching) of the HTTP transport.
#include "http/proxy.hpp"
#include "http/url.hpp"

#include <alloy/errors.hpp>

#include <catch2/catch.hpp>

#include <map>

using alloy::http::parse_url;
using alloy::http::proxy_bypassed;
using alloy::http::proxy_for;
using alloy::http::ProxyConfig;

TEST_CASE("URLs: default ports, targets, IPv6 literals", "[http][url]") {
    const auto a = parse_url("https://api.Example.com/v1/chat?x=1&y=2");
    CHECK(a.scheme == "https");
    CHECK(a.host == "api.example.com");
    CHECK(a.port == 443);
    CHECK(a.target == "/v1/chat?x=1&y=2");
    CHECK(a.host_header() == "api.example.com");
    const auto b = parse_url("http://127.0.0.1:8080");
    CHECK(b.port == 8080);
    CHECK(b.target == "/");
    CHECK(b.host_header() == "127.0.0.1:8080");
    CHECK(b.absolute_form() == "http://127.0.0.1:8080/");
    const auto c = parse_url("http://[::1]:9000/p");
    CHECK(c.ipv6);
    CHECK(c.host == "::1");
    CHECK(c.authority() == "[::1]:9000");
    CHECK(parse_url("http://[::1]/").port == 80);
    CHECK_THROWS_AS(parse_url("ftp://example.com/"), alloy::ConfigurationError);
    CHECK_THROWS_AS(parse_url("not a url"), alloy::ConfigurationError);
    CHECK_THROWS_AS(parse_url("http:///path"), alloy::ConfigurationError);
}

TEST_CASE("NO_PROXY matching", "[http][proxy]") {
    CHECK(proxy_bypassed("*", "anything.org", 443));
    CHECK(proxy_bypassed("example.com", "example.com", 443));
    CHECK(proxy_bypassed("example.com", "api.example.com", 443));
    CHECK(proxy_bypassed(".example.com", "api.example.com", 443));
    CHECK(proxy_bypassed(".example.com", "example.com", 443));
    CHECK_FALSE(proxy_bypassed("example.com", "badexample.com", 443));
    CHECK(proxy_bypassed(" foo.org , EXAMPLE.com ", "Api.Example.COM", 80));
    CHECK(proxy_bypassed("example.com:8443", "example.com", 8443));
    CHECK_FALSE(proxy_bypassed("example.com:8443", "example.com", 443));
    CHECK(proxy_bypassed("127.0.0.1", "127.0.0.1", 8080));
    CHECK_FALSE(proxy_bypassed("", "127.0.0.1", 8080));  // loopback is not special
    CHECK_FALSE(proxy_bypassed("localhost", "127.0.0.1", 8080));
    CHECK(proxy_bypassed("[::1]:8080", "::1", 8080));
    CHECK(proxy_bypassed("::1", "::1", 8080));
    CHECK_FALSE(proxy_bypassed("[::1]:8080", "::1", 80));
}

TEST_CASE("proxy selection from the environment", "[http][proxy]") {
    std::map<std::string, std::string> env = {{"HTTPS_PROXY", "http://u:s%3Acret@proxy.local:3128"},
                                              {"https_proxy", "http://ignored:1"},
                                              {"http_proxy", "proxy.local:8080"},
                                              {"no_proxy", "internal.corp"}};
    const auto config = ProxyConfig::from_env([&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
    CHECK(config.https_proxy == "http://u:s%3Acret@proxy.local:3128");
    CHECK(config.http_proxy == "proxy.local:8080");
    CHECK(config.no_proxy == "internal.corp");

    const auto https = proxy_for(config, "https", "api.openai.com", 443);
    REQUIRE(https);
    CHECK(https->host == "proxy.local");
    CHECK(https->port == 3128);
    CHECK(https->authorization == "Basic dTpzOmNyZXQ=");  // u:s:cret
    const auto http = proxy_for(config, "http", "api.openai.com", 80);
    REQUIRE(http);
    CHECK(http->port == 8080);
    CHECK(http->authorization.empty());
    CHECK_FALSE(proxy_for(config, "https", "svc.internal.corp", 443));
    CHECK_FALSE(proxy_for(ProxyConfig{}, "https", "api.openai.com", 443));
}
