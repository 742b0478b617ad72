#pragma once
// The one reader of our `name = value` files: --config files (cli) and fraud rules files.
// Blank lines and lines starting with '#' or ';' are comments; [section] headers are ignored;
// names and values are trimmed; a value wrapped in double quotes loses them ("a b" -> a b).
#include <string>
#include <string_view>
#include <vector>

namespace pokeflow::core::ini {

struct entry {
  std::string key;
  std::string value;
  int line = 0;  // 1-based, for error messages
};

// Entries in file order (a repeated name appears twice; the caller decides). Throws
// std::invalid_argument "line N: expected name = value" on a line without '=' or without a name.
std::vector<entry> parse(std::string_view text);

}  // namespace pokeflow::core::ini
