// Turns one HTTP request into a response plan: routing, auth checks, the scripted model, fault injection
// and the /_mock/ control endpoints. The connection code only executes the plan (writes, delays, cuts).
#pragma once

#include "mock/state.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace alloy::mock::detail {

/// What to send for one request, and how.
struct Plan {
    bool drop = false;  ///< close the connection without a response
    unsigned status = 200;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    bool streaming = false;          ///< chunked body made of `events`
    std::string body;                ///< non-stream body
    std::vector<std::string> events; ///< stream events, already framed for the format
    std::chrono::milliseconds delay_before_headers{0};
    std::chrono::milliseconds delay_between_chunks{0};
    bool truncate_body = false;                 ///< send half the body bytes, then close
    std::optional<std::size_t> truncate_after;  ///< streams: send this many events, then close
};

Plan handle_request(ServerState& state, const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace alloy::mock::detail
