// The scripted model: a provider-neutral view of a request (Transcript) in, a deterministic Reply out.
// No I/O; the wire adapters translate each provider's request into a Transcript and the Reply back.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alloy::mock::detail {

/// A tool the request offers. `schema` points into the request body, which outlives the Transcript.
struct OfferedTool {
    std::string name;
    const boost::json::value* schema = nullptr;  ///< null: a tool without parameters
};

enum class ToolChoice { automatic, none, required, named };

/// What the scripted model needs to know about a request.
struct Transcript {
    std::string model;
    std::string last_user_text;             ///< text of the last user message that has text
    std::vector<std::string> tool_results;  ///< tool results after that message, in order
    bool has_tool_results = false;          ///< true when any tool result follows that message
    std::vector<OfferedTool> tools;
    ToolChoice tool_choice = ToolChoice::automatic;
    std::string forced_tool;                ///< with ToolChoice::named
    bool typed = false;                     ///< structured output requested
    const boost::json::value* output_schema = nullptr;  ///< null with typed: JSON mode without schema
    bool stream = false;
    bool include_usage = false;             ///< Chat: stream_options.include_usage
};

/// One call the scripted model makes.
struct ScriptedCall {
    std::string name;
    boost::json::object args;
    std::string args_text;  ///< args serialised once
};

/// The scripted model's answer.
struct Reply {
    std::string text;                 ///< final answer (empty when calls is not)
    std::vector<ScriptedCall> calls;  ///< tool calls of this turn
    std::vector<std::string> pieces;  ///< the text split into stream chunks (concatenation == text)
    std::size_t input_tokens = 1;
    std::size_t output_tokens = 1;
};

/// Directives found in the user text (see alloy/mock/server.hpp).
struct Directives {
    std::vector<ScriptedCall> calls;
    bool loop = false;
    bool empty = false;
    bool no_tools = false;
    std::optional<std::string> reply;
    std::optional<std::size_t> chunks;
};

Directives parse_directives(std::string_view text);

/// Splits `text` into stream pieces: `n` pieces when given (fewer when the text is shorter), otherwise
/// one piece per word, at least 3 when the text has 3 or more characters. Never splits a UTF-8 sequence.
std::vector<std::string> split_pieces(std::string_view text, std::optional<std::size_t> n);

/// Splits a JSON argument text into `n` fragments (at least 1) for streamed tool calls.
std::vector<std::string> split_fragments(std::string_view text, std::size_t n);

/// Runs the script for one request. `body_bytes` sizes the input token count.
Reply run_script(const Transcript& t, std::size_t body_bytes);

}  // namespace alloy::mock::detail
