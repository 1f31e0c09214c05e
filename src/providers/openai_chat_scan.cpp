#include "providers/openai_chat_scan.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

#include <array>
#include <cstdint>

namespace alloy::providers::detail {
namespace {

using boost::json::error_code;
using boost::json::string_view;

// Where the parser is: each open container is one of these. `skip` is anything the adapter ignores.
enum class Context : std::uint8_t {
    root, usage, prompt_details, completion_details, choices, choice, message, tool_calls, tool_call, function, skip
};

// The keys read in each context (a key's meaning depends on its context).
enum class Field : std::uint8_t {
    none,
    model, usage, choices, error,                          // root
    prompt_tokens, completion_tokens, prompt_details, completion_details,  // usage
    cached_tokens,                                         // usage.prompt_tokens_details
    reasoning_tokens,                                      // usage.completion_tokens_details
    finish_reason, message,                                // choices[0]
    content, refusal, tool_calls,                          // message
    id, function,                                          // tool_calls[i]
    name, arguments,                                       // function
};

Field field_of(Context context, std::string_view key) noexcept {
    switch (context) {
    case Context::root:
        if (key == "model") return Field::model;
        if (key == "usage") return Field::usage;
        if (key == "choices") return Field::choices;
        if (key == "error") return Field::error;
        break;
    case Context::usage:
        if (key == "prompt_tokens") return Field::prompt_tokens;
        if (key == "completion_tokens") return Field::completion_tokens;
        if (key == "prompt_tokens_details") return Field::prompt_details;
        if (key == "completion_tokens_details") return Field::completion_details;
        break;
    case Context::prompt_details:
        if (key == "cached_tokens") return Field::cached_tokens;
        break;
    case Context::completion_details:
        if (key == "reasoning_tokens") return Field::reasoning_tokens;
        break;
    case Context::choice:
        if (key == "finish_reason") return Field::finish_reason;
        if (key == "message") return Field::message;
        break;
    case Context::message:
        if (key == "content") return Field::content;
        if (key == "refusal") return Field::refusal;
        if (key == "tool_calls") return Field::tool_calls;
        break;
    case Context::tool_call:
        if (key == "id") return Field::id;
        if (key == "function") return Field::function;
        break;
    case Context::function:
        if (key == "name") return Field::name;
        if (key == "arguments") return Field::arguments;
        break;
    default:
        break;
    }
    return Field::none;
}

class Handler {
public:
    static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

    ChatReplyFields fields;
    bool has_choice = false;

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }

    bool on_object_begin(error_code& ec) {
        Context next = Context::skip;
        if (depth_ == 0) {
            next = Context::root;
        } else if (const Context parent = top().context; parent == Context::choices) {
            if (top().elements++ == 0) {
                next = Context::choice;
                has_choice = true;
            }
        } else if (parent == Context::tool_calls) {
            fields.tool_calls.emplace_back();
            next = Context::tool_call;
        } else if (parent != Context::skip) {
            switch (take_field()) {
            case Field::usage: fields.usage.emplace(); next = Context::usage; break;
            case Field::prompt_details: next = Context::prompt_details; break;
            case Field::completion_details: next = Context::completion_details; break;
            case Field::message: next = Context::message; break;
            case Field::function: next = Context::function; break;
            case Field::error: case Field::arguments: return fail(ec);
            default: break;
            }
        }
        return push(next, ec);
    }

    bool on_object_end(std::size_t, error_code&) {
        --depth_;
        return true;
    }

    bool on_array_begin(error_code& ec) {
        Context next = Context::skip;
        if (depth_ == 0) return fail(ec);  // the root must be an object
        if (top().context == Context::choices) {
            if (top().elements++ == 0) return fail(ec);  // the first choice must be an object
        } else if (top().context != Context::skip && top().context != Context::tool_calls) {
            switch (take_field()) {
            case Field::choices: next = Context::choices; break;
            case Field::tool_calls: next = Context::tool_calls; break;
            case Field::error: case Field::arguments: return fail(ec);
            default: break;
            }
        }
        return push(next, ec);
    }

    bool on_array_end(std::size_t, error_code&) {
        --depth_;
        return true;
    }

    bool on_key_part(string_view s, std::size_t, error_code&) {
        partial_.append(s.data(), s.size());
        return true;
    }

    bool on_key(string_view s, std::size_t, error_code& ec) {
        Frame& frame = top();
        frame.field = Field::none;
        const Field field = frame.context == Context::skip ? Field::none : field_of(frame.context, whole(s));
        partial_.clear();
        if (field == Field::none) return true;
        // A repeated key: the tree keeps the last value; leave such bodies to it.
        const std::uint32_t bit = 1u << static_cast<unsigned>(field);
        if (frame.seen & bit) return fail(ec);
        frame.seen |= bit;
        frame.field = field;
        return true;
    }

    bool on_string_part(string_view s, std::size_t, error_code&) {
        partial_.append(s.data(), s.size());
        return true;
    }

    bool on_string(string_view s, std::size_t, error_code& ec) {
        const std::string_view text = whole(s);
        bool ok = true;
        switch (scalar_field(ec, ok)) {
        case Field::model: fields.model.assign(text); break;
        case Field::finish_reason: fields.finish_reason.assign(text); break;
        case Field::content: fields.text.assign(text); break;
        case Field::refusal: fields.refused = !text.empty(); break;
        case Field::id: fields.tool_calls.back().id.assign(text); break;
        case Field::name: fields.tool_calls.back().name.assign(text); break;
        case Field::arguments: fields.tool_calls.back().arguments.assign(text); break;
        default: break;
        }
        partial_.clear();
        return ok;
    }

    bool on_number_part(string_view, error_code&) { return true; }
    bool on_int64(std::int64_t i, string_view, error_code& ec) { return on_integer(i, ec); }
    bool on_uint64(std::uint64_t u, string_view, error_code& ec) { return on_integer(static_cast<std::int64_t>(u), ec); }
    bool on_double(double d, string_view, error_code& ec) { return on_integer(static_cast<std::int64_t>(d), ec); }
    bool on_bool(bool, error_code& ec) { return on_other_scalar(ec); }

    bool on_null(error_code& ec) {
        bool ok = true;
        scalar_field(ec, ok);  // a null `arguments` means no arguments: "" as in the tree path
        return ok;
    }

    bool on_comment_part(string_view, error_code&) { return true; }
    bool on_comment(string_view, error_code&) { return true; }

private:
    struct Frame {
        Context context = Context::skip;
        Field field = Field::none;    // the field whose value comes next (objects)
        std::uint32_t seen = 0;       // fields met so far (objects)
        std::size_t elements = 0;     // elements so far (arrays)
    };

    static constexpr std::size_t max_depth = 64;  // beyond Boost.JSON's default limit of 32

    Frame& top() noexcept { return stack_[depth_ - 1]; }

    bool push(Context context, error_code& ec) {
        if (depth_ == max_depth) return fail(ec);
        stack_[depth_++] = Frame{context};
        return true;
    }

    static bool fail(error_code& ec) {
        ec = boost::json::error::syntax;  // any error: the caller falls back to the tree
        return false;
    }

    Field take_field() noexcept {
        Frame& frame = top();
        const Field field = frame.field;
        frame.field = Field::none;
        return field;
    }

    // The field a scalar value is for (none inside arrays and ignored containers). A scalar at the
    // root, as the first choice, or for `error`, fails the scan.
    Field scalar_field(error_code& ec, bool& ok) {
        if (depth_ == 0) {
            ok = fail(ec);
            return Field::none;
        }
        Frame& frame = top();
        if (frame.context == Context::choices) {
            if (frame.elements++ == 0) ok = fail(ec);
            return Field::none;
        }
        if (frame.context == Context::skip || frame.context == Context::tool_calls) return Field::none;
        const Field field = take_field();
        if (field == Field::error) ok = fail(ec);
        return field;
    }

    bool on_integer(std::int64_t value, error_code& ec) {
        bool ok = true;
        const Field field = scalar_field(ec, ok);
        if (field == Field::arguments) return fail(ec);  // the tree path renders it as JSON text
        switch (field) {  // reached only inside `usage`, which is set by then
        case Field::prompt_tokens: fields.usage->input_tokens = value; break;
        case Field::completion_tokens: fields.usage->output_tokens = value; break;
        case Field::cached_tokens: fields.usage->cached_tokens = value; break;
        case Field::reasoning_tokens: fields.usage->reasoning_tokens = value; break;
        default: break;
        }
        return ok;
    }

    bool on_other_scalar(error_code& ec) {
        bool ok = true;
        if (scalar_field(ec, ok) == Field::arguments) return fail(ec);
        return ok;
    }

    std::string_view whole(string_view last) {
        if (partial_.empty()) return {last.data(), last.size()};
        partial_.append(last.data(), last.size());
        return partial_;
    }

    std::array<Frame, max_depth> stack_{};
    std::size_t depth_ = 0;
    std::string partial_;  // a key or string delivered in parts
};

}  // namespace

std::optional<ChatReplyFields> scan_chat_reply(std::string_view body) {
    boost::json::basic_parser<Handler> parser{boost::json::parse_options{}};
    error_code ec;
    const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
    if (ec || used != body.size() || !parser.done() || !parser.handler().has_choice) return std::nullopt;
    return std::move(parser.handler().fields);
}

}  // namespace alloy::providers::detail
