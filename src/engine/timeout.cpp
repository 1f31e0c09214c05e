#include "engine/timeout.hpp"

namespace alloy::detail {

CommandError timeout_error(const std::string& what, const std::string& phase, std::chrono::milliseconds limit) {
    Diagnostics diag;
    diag.phase = phase;
    diag.retryable = true;
    return CommandError(ErrorKind::timeout,
                        what + " timed out after " + std::to_string(limit.count()) + " ms (" + phase + " timeout)",
                        std::move(diag));
}

}  // namespace alloy::detail
