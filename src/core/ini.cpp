#include "core/ini.hpp"

#include <stdexcept>

#include "core/text.hpp"

namespace pokeflow::core::ini {

std::vector<entry> parse(std::string_view text) {
  std::vector<entry> out;
  int n = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text::trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++n;
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    auto eq = line.find('=');
    auto key = eq == std::string_view::npos ? std::string_view() : text::trim(line.substr(0, eq));
    if (key.empty()) throw std::invalid_argument("line " + std::to_string(n) + ": expected name = value");
    auto value = text::trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    out.push_back({std::string(key), std::string(value), n});
  }
  return out;
}

}  // namespace pokeflow::core::ini
