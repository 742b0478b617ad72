#pragma once
// Small text helpers every part of core and the roles share: white-space trimming, comma
// lists, whole-file reads and the JSON string escaper for hand-built JSON (logs, verify and
// loadgen summaries, the api's pages). RapidJSON (core/json) stays behind its codecs.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pokeflow::core::text {

// s without leading and trailing spaces, tabs, CR and LF.
std::string_view trim(std::string_view s) noexcept;

// "a, b,,c " -> {"a", "b", "c"}: items split on sep, trimmed, empty ones dropped.
std::vector<std::string> split_list(std::string_view s, char sep = ',');

// The whole file as bytes. Throws std::runtime_error "cannot read <what> <path>: <reason>".
std::string read_file(const std::string& path, std::string_view what = "file");

// read_file, then parse(text). Whatever parse throws comes back as std::runtime_error
// "<what> <path>: <its message>", so the user learns which file is wrong.
template <class Parse>
auto parse_file(const std::string& path, std::string_view what, Parse&& parse) {
  const std::string content = read_file(path, what);
  try {
    return parse(std::string_view(content));
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(what) + " " + path + ": " + e.what());
  }
}

// Appends s to out escaped for the inside of a JSON string literal (no quotes): '"', '\' and
// the control characters below 0x20 are escaped; other bytes, UTF-8 included, pass through.
void append_json_escaped(std::string& out, std::string_view s);
// The same, returned.
std::string json_escape(std::string_view s);
// s as a quoted JSON string: '"' + json_escape(s) + '"'.
std::string json_string(std::string_view s);

}  // namespace pokeflow::core::text
