#include <alloy/tool.hpp>

namespace alloy::detail {

namespace {
const char* contract_label(const std::string& kind) {
    return kind == "require" ? "precondition" : "postcondition";
}
}  // namespace

void throw_contract_failure(const std::string& tool, const std::string& kind, const std::string& message) {
    throw ToolError(tool, std::string(contract_label(kind)) + " of tool '" + tool + "' failed: " + message, message);
}

void throw_contract_exception(const std::string& tool, const std::string& kind, const std::string& message,
                              std::exception_ptr error) {
    std::string why = "unknown exception";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        why = e.what();
    } catch (...) {
    }
    throw ToolError(tool,
                    std::string(contract_label(kind)) + " of tool '" + tool + "' failed: " + message +
                        " (the check threw: " + why + ")",
                    message);
}

}  // namespace alloy::detail
