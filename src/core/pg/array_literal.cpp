#include "core/pg/array_literal.hpp"

#include <stdexcept>

namespace pokeflow::core::pg {

void array_literal_builder::add(std::string_view element) {
  if (element.find('\0') != std::string_view::npos)
    throw std::invalid_argument("array element " + std::to_string(count_) + " contains a NUL byte");
  if (count_++) out_ += ',';
  out_ += '"';
  for (char c : element) {
    if (c == '"' || c == '\\') out_ += '\\';
    out_ += c;
  }
  out_ += '"';
}

std::string array_literal(const std::vector<std::string>& items) {
  array_literal_builder b;
  for (const auto& item : items) b.add(item);
  return b.str();
}

}  // namespace pokeflow::core::pg
