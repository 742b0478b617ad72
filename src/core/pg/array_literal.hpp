#pragma once
// PostgreSQL array literals for parameters such as `unnest($1::text[], $2::bigint[])`: how a
// whole batch of user text travels in one bound parameter. This is the escaping that keeps
// that text data: every element is double-quoted with '"' and '\' backslash-escaped, so
// commas, braces, spaces, quotes, an empty string and the word NULL all arrive as themselves
// (PostgreSQL reads only an unquoted NULL as a null element). Bytes pass through unchanged,
// so UTF-8 stays UTF-8. Numbers quote fine too: '{"1","2.5"}'::float8[] is valid.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pokeflow::core::pg {

// Builds one literal element by element: `array_literal_builder b; b.add("x"); b.str()`.
class array_literal_builder {
 public:
  // Throws std::invalid_argument on a NUL byte (libpq parameters end at NUL, so the rest of
  // the batch would be cut off; the JSON codec already refuses NUL in user text).
  void add(std::string_view element);
  std::size_t size() const noexcept { return count_; }
  // The literal: "{}" when nothing was added.
  std::string str() const { return out_ + '}'; }

 private:
  std::string out_ = "{";
  std::size_t count_ = 0;
};

// The literal of all items, e.g. {"a","b \"c\""}. Throws std::invalid_argument on a NUL byte.
std::string array_literal(const std::vector<std::string>& items);

}  // namespace pokeflow::core::pg
