// Writes a JSON request body as text straight from the request, without building a tree first.
// Internal header.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace alloy::providers::detail {

/// Streams one JSON object body. The hot adapters (Chat Completions) write their bodies through it:
/// a tree built in an arena and then serialised cost about twice as many instructions.
///
/// Commas are placed automatically: call key()/values in order, begin_*/end_* for nesting. `extra`
/// (ModelRequest::extra) overrides top-level members as merge_extra does for tree-built bodies:
/// member() skips a key that `extra` sets, and finish() appends `extra`'s members.
class BodyWriter {
public:
    /// Starts the body (`{`). `extra` must outlive the writer.
    explicit BodyWriter(const boost::json::object& extra);
    ~BodyWriter();
    BodyWriter(const BodyWriter&) = delete;
    BodyWriter& operator=(const BodyWriter&) = delete;

    /// Starts a top-level member; returns false, writing nothing, when `extra` sets `key` (then the
    /// caller writes no value).
    [[nodiscard]] bool member(std::string_view key);
    /// A key inside a nested object.
    void key(std::string_view key);

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();

    void string(std::string_view text);
    void null();
    void boolean(bool value);
    void integer(std::int64_t value);
    void number(double value);
    /// JSON text written as-is (a schema serialised once per command definition).
    void raw(std::string_view json);
    /// A JSON value serialised in place (no copy of the tree).
    void value(const boost::json::value& v);
    void value(const boost::json::object& o);

    /// Appends `extra`'s members, closes the body and returns it allocated at its exact size (bodies
    /// live as long as their request, in every in-flight command).
    std::string finish();

private:
    void separate();
    void quoted(std::string_view text);  // JSON string literal, escaped
    template <class Value>
    void serialized(const Value* v);      // a Boost.JSON value or object, serialised in place
    void append(const char* data, std::size_t size);
    /// Room for `more` bytes after size_; grows geometrically.
    void reserve(std::size_t more);

    const boost::json::object& extra_;
    // Written through a raw buffer rather than std::string: the per-append bookkeeping of a string
    // was most of the cost of writing small members.
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
    bool comma_ = false;     // a value was just completed: the next key or element needs a comma
    bool borrowed_ = false;  // data_ is the thread's reusable buffer
};

}  // namespace alloy::providers::detail
