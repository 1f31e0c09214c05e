#include "engine/tool_loop.hpp"

#include <alloy/schema.hpp>

namespace alloy::detail {

const std::string& finalize_prompt() {
    static const std::string text =
        "Your previous reply did not contain the required output. Reply now with only the final JSON "
        "object that matches the required schema: no tool calls, no prose, no code fences.";
    return text;
}

Step decide_step(const ModelReply& reply, LoopState& state, const LoopRules& rules) {
    // During the finalize follow-up tools are forbidden; a model that still asks for them has not
    // answered, and its text is judged like any other reply.
    if (!reply.tool_calls.empty() && !state.finalizing) {
        ++state.tool_turns;
        if (state.tool_turns > rules.max_tool_turns) {
            std::string partial = state.partial_text;
            partial += reply.text;
            throw ToolLoopLimitExceeded(rules.max_tool_turns, state.tool_turns, std::move(partial));
        }
        state.partial_text += reply.text;
        return Step::run_tools;
    }
    switch (rules.mode) {
    case OutputMode::none:
        return Step::finish;
    case OutputMode::text:
        if (reply.text.empty())
            throw CommandError(ErrorKind::output_missing,
                               "the model returned empty text (finish reason: " +
                                   std::string(to_string(reply.finish)) + ")");
        return Step::finish;
    case OutputMode::typed:
        if (output_is_complete(reply.text, *rules.output)) return Step::finish;
        if (rules.auto_finalize && !state.finalizing) {
            state.finalizing = true;
            return Step::finalize;
        }
        if (reply.text.empty())
            throw CommandError(ErrorKind::output_missing,
                               "the model returned no output of type " + rules.output->name + " (finish reason: " +
                                   std::string(to_string(reply.finish)) + ")");
        return Step::finish;  // the parse reports exactly what is wrong
    }
    return Step::finish;
}

}  // namespace alloy::detail
