// The tool-loop step, free of I/O: given a model reply, decide whether to run tools, ask for the
// missing output once more (finalize), or finish. Internal header.
#pragma once

#include <alloy/command.hpp>
#include <alloy/provider.hpp>

#include <string>

namespace alloy::detail {

/// What the loop does after a reply.
enum class Step {
    run_tools,  ///< run the reply's tool calls, append results, ask again
    finalize,   ///< ask once more, without tools, for the required JSON output only
    finish,     ///< the reply is the answer (typed output is parsed by the caller)
};

/// State carried across the turns of one attempt.
struct LoopState {
    int tool_turns = 0;        ///< tool turns taken (a turn is one reply that asks for tools)
    bool finalizing = false;   ///< the finalize follow-up has been sent
    std::string partial_text;  ///< assistant text of earlier turns, for ToolLoopLimitExceeded
};

/// Limits that shape the loop.
struct LoopRules {
    int max_tool_turns = 10;
    bool auto_finalize = true;
    OutputMode mode = OutputMode::text;
    const OutputSpec* output = nullptr;  ///< set in typed mode
};

/// Decides the next step for `reply`. Throws ToolLoopLimitExceeded (before the over-limit batch runs)
/// and CommandError(output_missing) for an empty answer in text mode or a typed answer still missing
/// after finalize (or with finalize off) when the text is empty.
Step decide_step(const ModelReply& reply, LoopState& state, const LoopRules& rules);

/// The follow-up user message of the finalize step.
const std::string& finalize_prompt();

}  // namespace alloy::detail
