#pragma once
// The fraud decision, shared by the fraud role (which makes it) and `pokeflow verify` (which
// checks it was made): pure functions over domain types, unit-testable alone.
#include <string>
#include <string_view>

#include "pokeflow/config.hpp"
#include "pokeflow/order.hpp"

namespace pokeflow::core::fraud {

// rejected when price > max_price, user is blocked, or the Pokémon name starts with a
// blocked prefix (case-insensitive); success otherwise. Same input, same answer.
order_state decide(const order& o, const fraud_rules& rules) noexcept;

// Parses a rules file's text (name = value lines, read by core/ini). Throws
// std::invalid_argument naming the line and the problem.
fraud_rules parse_rules(std::string_view text);
// Reads and parses a rules file. Throws std::runtime_error naming the file.
fraud_rules load_rules(const std::string& path);

}  // namespace pokeflow::core::fraud
