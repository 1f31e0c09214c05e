// Google Gemini generateContent / streamGenerateContent (v1beta): PROTOCOLS.md §4.
#include "mock/wire.hpp"

#include <boost/json.hpp>

namespace alloy::mock::detail {
namespace json = boost::json;

namespace {

// Base64 of "mock-thought-signature": opaque to clients, who must echo it unchanged.
constexpr std::string_view thought_signature = "bW9jay10aG91Z2h0LXNpZ25hdHVyZQ==";

std::string call_id(const RequestInfo& info, std::size_t i) {
    return "call_mock_" + std::to_string(info.seq) + "_" + std::to_string(i);
}

WireError invalid(std::string message) { return WireError{400, "INVALID_ARGUMENT", "", std::move(message), {}}; }

// A functionResponse's result text: response.output (a string stays as is), response.error, or the
// whole response object.
std::string function_response_text(const json::object& fr) {
    const auto* response = fr.if_contains("response");
    if (!response) return {};
    if (const auto* o = response->if_object()) {
        for (const char* key : {"output", "error"}) {
            if (const auto* v = o->if_contains(key)) return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
        }
    }
    return response->is_string() ? std::string(response->as_string()) : json::serialize(*response);
}

json::object usage(const Reply& r, bool final_chunk) {
    json::object u{{"promptTokenCount", r.input_tokens}};
    if (final_chunk) {
        u["candidatesTokenCount"] = r.output_tokens;
        u["totalTokenCount"] = r.input_tokens + r.output_tokens;
    } else {
        u["totalTokenCount"] = r.input_tokens;
    }
    u["promptTokensDetails"] = json::array{json::object{{"modality", "TEXT"}, {"tokenCount", r.input_tokens}}};
    return u;
}

json::array call_parts(const Reply& r, const RequestInfo& info) {
    json::array parts;
    for (std::size_t i = 0; i < r.calls.size(); ++i) {
        json::object part{{"functionCall", {{"id", call_id(info, i)}, {"name", r.calls[i].name}, {"args", r.calls[i].args}}}};
        if (i == 0) part["thoughtSignature"] = thought_signature;  // only the first call of a parallel set
        parts.push_back(std::move(part));
    }
    return parts;
}

json::object response(const RequestInfo& info, json::array parts, bool finished, json::object usage_metadata) {
    json::object candidate{{"content", {{"parts", std::move(parts)}, {"role", "model"}}}};
    if (finished) candidate["finishReason"] = "STOP";
    candidate["index"] = 0;
    return {{"candidates", json::array{std::move(candidate)}},
            {"usageMetadata", std::move(usage_metadata)},
            {"modelVersion", info.model},
            {"responseId", "mock-" + std::to_string(info.seq)}};
}

std::string frame(const json::object& payload, const RequestInfo& info) {
    if (info.gemini_sse) return "data: " + json::serialize(payload) + "\r\n\r\n";
    return json::serialize(payload);
}

}  // namespace

std::optional<WireError> parse_gemini(const json::object& body, Transcript& out) {
    const auto* contents = body.if_contains("contents");
    if (!contents || !contents->is_array())
        return invalid("* GenerateContentRequest.contents: contents is not specified");
    for (const auto& cv : contents->as_array()) {
        const auto* content = cv.if_object();
        const auto* parts = content ? content->if_contains("parts") : nullptr;
        if (!parts || !parts->is_array())
            return invalid("* GenerateContentRequest.contents.parts: contents.parts must not be empty.");
        const auto* role = content->if_contains("role");
        if (role && *role == "model") {
            // The first functionCall part of each model turn must carry the signature it was issued with.
            std::size_t position = 0;
            for (const auto& pv : parts->as_array()) {
                ++position;
                const auto* part = pv.if_object();
                if (!part || !part->contains("functionCall")) continue;
                const auto* sig = part->if_contains("thoughtSignature");
                if (!sig || !sig->is_string() || sig->as_string().empty()) {
                    const auto* name = part->at("functionCall").is_object()
                                           ? part->at("functionCall").as_object().if_contains("name")
                                           : nullptr;
                    return invalid("Function call is missing a thought_signature in functionCall parts. This is "
                                   "required for tools to work correctly, and missing thought_signature may lead to "
                                   "degraded model performance. Additional data, function call `default_api:" +
                                   std::string(name && name->is_string() ? std::string_view(name->as_string()) : "") +
                                   "` , position " + std::to_string(position) +
                                   ". Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for "
                                   "more details.");
                }
                break;
            }
            continue;
        }
        std::string text;
        bool has_text = false;
        for (const auto& pv : parts->as_array()) {
            const auto* part = pv.if_object();
            if (!part) continue;
            if (const auto* fr = part->if_contains("functionResponse"); fr && fr->is_object()) {
                out.tool_results.push_back(function_response_text(fr->as_object()));
                out.has_tool_results = true;
            } else if (const auto* t = part->if_contains("text"); t && t->is_string()) {
                text += t->as_string();
                has_text = true;
            }
        }
        if (has_text) {
            out.last_user_text = std::move(text);
            out.tool_results.clear();
            out.has_tool_results = false;
        }
    }
    if (const auto* tools = body.if_contains("tools"); tools && tools->is_array()) {
        for (const auto& tv : tools->as_array()) {
            const auto* decls = tv.is_object() ? tv.as_object().if_contains("functionDeclarations") : nullptr;
            if (!decls || !decls->is_array()) continue;
            for (const auto& dv : decls->as_array()) {
                const auto* decl = dv.if_object();
                const auto* name = decl ? decl->if_contains("name") : nullptr;
                if (!name || !name->is_string())
                    return invalid("* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty.");
                if (decl->contains("parameters") && decl->contains("parametersJsonSchema"))
                    return invalid("parameters and parameters_json_schema are mutually exclusive");
                const json::value* schema = decl->if_contains("parametersJsonSchema");
                if (!schema) schema = decl->if_contains("parameters");
                out.tools.push_back({std::string(name->as_string()), schema});
            }
        }
    }
    if (const auto* cfg = find_path(body, {"toolConfig", "functionCallingConfig"}); cfg && cfg->is_object()) {
        const auto* mode = cfg->as_object().if_contains("mode");
        const auto* allowed = cfg->as_object().if_contains("allowedFunctionNames");
        if (mode && *mode == "NONE") {
            out.tool_choice = ToolChoice::none;
        } else if (mode && *mode == "ANY") {
            if (allowed && allowed->is_array() && allowed->as_array().size() == 1 && allowed->as_array()[0].is_string()) {
                out.tool_choice = ToolChoice::named;
                out.forced_tool = allowed->as_array()[0].as_string();
            } else {
                out.tool_choice = ToolChoice::required;
            }
        }
    }
    if (const auto* gc = body.if_contains("generationConfig"); gc && gc->is_object()) {
        const auto& g = gc->as_object();
        if (g.contains("responseSchema") && g.contains("responseJsonSchema"))
            return invalid("response_schema and response_json_schema are mutually exclusive");
        const json::value* schema = g.if_contains("responseJsonSchema");
        if (!schema) schema = g.if_contains("responseSchema");
        const auto* mime = g.if_contains("responseMimeType");
        if (schema && !(mime && *mime == "application/json"))
            return invalid("response_mime_type must be application/json when a response schema is set");
        if (mime && *mime == "application/json") {
            out.typed = true;
            out.output_schema = schema;
        }
    }
    return std::nullopt;
}

std::string render_gemini_json(const Transcript&, const Reply& r, const RequestInfo& info) {
    json::array parts = r.calls.empty() ? json::array{json::object{{"text", r.text}}} : call_parts(r, info);
    return json::serialize(response(info, std::move(parts), true, usage(r, true)));
}

std::vector<std::string> render_gemini_stream(const Transcript&, const Reply& r, const RequestInfo& info) {
    std::vector<std::string> events;
    if (!r.calls.empty()) {
        // Calls arrive whole, all in one chunk.
        events.push_back(frame(response(info, call_parts(r, info), true, usage(r, true)), info));
        return events;
    }
    if (r.pieces.empty()) {
        events.push_back(frame(response(info, json::array{json::object{{"text", ""}}}, true, usage(r, true)), info));
        return events;
    }
    for (std::size_t i = 0; i < r.pieces.size(); ++i) {
        const bool last = i + 1 == r.pieces.size();
        events.push_back(frame(response(info, json::array{json::object{{"text", r.pieces[i]}}}, last, usage(r, last)), info));
    }
    return events;
}

void frame_gemini_array(std::vector<std::string>& events) {
    if (events.empty()) {
        events.emplace_back("[]");
        return;
    }
    events.front().insert(0, "[");
    for (std::size_t i = 1; i < events.size(); ++i) events[i].insert(0, ",\r\n");
    events.back() += "]";
}

}  // namespace alloy::mock::detail
