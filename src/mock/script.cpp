#include "mock/script.hpp"

#include "mock/schema_values.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace alloy::mock::detail {
namespace json = boost::json;

namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Byte offset of the end of the first `n` code points of `text`.
std::size_t prefix_code_points(std::string_view text, std::size_t n) {
    std::size_t i = 0;
    std::size_t count = 0;
    while (i < text.size() && count < n) {
        ++i;
        while (i < text.size() && is_continuation(text[i])) ++i;
        ++count;
    }
    return i;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// End (exclusive) of the balanced JSON object starting at text[start] == '{', or npos.
std::size_t json_object_end(std::string_view text, std::size_t start) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = start; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{') ++depth;
        else if (c == '}' && --depth == 0) return i + 1;
    }
    return std::string_view::npos;
}

ScriptedCall make_call(std::string name, json::object args) {
    ScriptedCall c{std::move(name), std::move(args), {}};
    c.args_text = json::serialize(c.args);
    return c;
}

ScriptedCall call_from_schema(const OfferedTool& tool) {
    json::value v = tool.schema ? value_for_schema(*tool.schema) : json::value(json::object{});
    return make_call(tool.name, v.is_object() ? std::move(v.as_object()) : json::object{});
}

}  // namespace

Directives parse_directives(std::string_view text) {
    Directives d;
    std::size_t pos = 0;
    while ((pos = text.find("[[", pos)) != std::string_view::npos) {
        const std::size_t body = pos + 2;
        std::size_t close = text.find("]]", body);
        if (close == std::string_view::npos) break;
        std::string_view inner = text.substr(body, close - body);
        const std::size_t word_end = std::min(inner.find_first_of(" \t\n"), inner.size());
        const std::string_view word = inner.substr(0, word_end);
        const std::string_view rest = trim(inner.substr(word_end));
        if (word == "call") {
            // NAME, then an optional JSON object that may itself contain "]]".
            std::size_t name_start = body + word_end;
            while (name_start < text.size() && std::isspace(static_cast<unsigned char>(text[name_start])))
                ++name_start;
            std::size_t name_end = name_start;
            while (name_end < text.size() && !std::isspace(static_cast<unsigned char>(text[name_end])) &&
                   text[name_end] != '{' && text.compare(name_end, 2, "]]") != 0)
                ++name_end;
            std::string name(text.substr(name_start, name_end - name_start));
            std::size_t i = name_end;
            while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
            json::object args;
            if (i < text.size() && text[i] == '{') {
                const std::size_t end = json_object_end(text, i);
                if (end != std::string_view::npos) {
                    std::error_code ec;
                    json::value v = json::parse(text.substr(i, end - i), ec);
                    if (!ec && v.is_object()) args = std::move(v.as_object());
                    i = end;
                    close = text.find("]]", i);
                    if (close == std::string_view::npos) break;
                }
            }
            if (!name.empty()) d.calls.push_back(make_call(std::move(name), std::move(args)));
        } else if (word == "loop") {
            d.loop = true;
        } else if (word == "empty") {
            d.empty = true;
        } else if (word == "no_tools") {
            d.no_tools = true;
        } else if (word == "reply") {
            // Everything after "reply " up to "]]", spaces kept.
            d.reply = std::string(inner.size() > 6 ? inner.substr(6) : std::string_view{});
        } else if (word == "chunks") {
            std::size_t n = 0;
            const auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
            (void)p;
            if (ec == std::errc{} && n > 0) d.chunks = n;
        }
        pos = close + 2;
    }
    return d;
}

std::vector<std::string> split_pieces(std::string_view text, std::optional<std::size_t> n) {
    std::vector<std::string> pieces;
    if (text.empty()) return pieces;
    // Code point boundaries: the only places a piece may end.
    std::vector<std::size_t> bounds;
    for (std::size_t i = 1; i < text.size(); ++i)
        if (!is_continuation(text[i])) bounds.push_back(i);
    const std::size_t code_points = bounds.size() + 1;

    if (!n) {
        // One piece per word (a word keeps its trailing spaces).
        std::size_t start = 0;
        for (std::size_t i = 0; i < text.size(); ++i) {
            const bool space = text[i] == ' ';
            const bool next_is_word = i + 1 < text.size() && text[i + 1] != ' ';
            if (space && next_is_word) {
                pieces.emplace_back(text.substr(start, i + 1 - start));
                start = i + 1;
            }
        }
        pieces.emplace_back(text.substr(start));
        if (pieces.size() >= 3 || code_points < 3) return pieces;
        pieces.clear();
        n = 3;
    }
    const std::size_t count = std::min(*n, code_points);
    std::size_t start = 0;
    for (std::size_t k = 1; k < count; ++k) {
        const std::size_t end = bounds[(k * code_points) / count - 1];
        pieces.emplace_back(text.substr(start, end - start));
        start = end;
    }
    pieces.emplace_back(text.substr(start));
    return pieces;
}

std::vector<std::string> split_fragments(std::string_view text, std::size_t n) {
    // JSON argument text is ASCII except inside strings; keep UTF-8 sequences whole all the same.
    return split_pieces(text, std::max<std::size_t>(1, n));
}

Reply run_script(const Transcript& t, std::size_t body_bytes) {
    Reply r;
    const Directives d = parse_directives(t.last_user_text);
    const bool tools_visible = !t.tools.empty() && t.tool_choice != ToolChoice::none && !d.no_tools;
    const bool fresh_turn = !t.has_tool_results;

    if (tools_visible) {
        const OfferedTool* forced = nullptr;
        if (t.tool_choice == ToolChoice::named) {
            for (const auto& tool : t.tools)
                if (tool.name == t.forced_tool) forced = &tool;
        }
        if (forced) {
            r.calls.push_back(call_from_schema(*forced));
        } else if (d.loop) {
            r.calls.push_back(call_from_schema(t.tools.front()));
        } else if (fresh_turn && !d.calls.empty()) {
            r.calls = d.calls;
        } else if (fresh_turn) {
            for (const auto& tool : t.tools) r.calls.push_back(call_from_schema(tool));
        }
    }

    if (r.calls.empty()) {
        if (d.reply) {
            r.text = *d.reply;
        } else if (d.empty) {
            r.text.clear();
        } else if (t.typed && t.output_schema) {
            r.text = json::serialize(value_for_schema(*t.output_schema));
        } else if (t.has_tool_results) {
            r.text = "Tool results: ";
            for (std::size_t i = 0; i < t.tool_results.size(); ++i) {
                if (i) r.text += ", ";
                r.text += t.tool_results[i];
            }
        } else {
            const std::string_view user = t.last_user_text;
            std::string reply = "Mock reply: ";
            reply.append(user.substr(0, prefix_code_points(user, 60)));
            if (t.typed) {
                json::object o;
                o["text"] = reply;
                r.text = json::serialize(o);
            } else {
                r.text = std::move(reply);
            }
        }
        r.pieces = split_pieces(r.text, d.chunks);
    }

    std::size_t out_chars = r.text.size();
    for (const auto& c : r.calls) out_chars += c.name.size() + c.args_text.size();
    r.input_tokens = std::max<std::size_t>(1, body_bytes / 4);
    r.output_tokens = std::max<std::size_t>(1, out_chars / 4);
    return r;
}

}  // namespace alloy::mock::detail
