#pragma once
// Domain types shared by all roles. Cheap header: no third-party includes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pokeflow {

enum class order_state { pending, rejected, failed, success, reversed };

const char* to_string(order_state s) noexcept;
std::optional<order_state> parse_order_state(std::string_view s) noexcept;
inline bool is_terminal(order_state s) noexcept { return s != order_state::pending; }

struct order {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string pokemon;
  std::string country;
  double price = 0;
  order_state state = order_state::pending;
  std::string timestamp;  // ISO-8601 as the seed returned it (from PostgreSQL)
};

// What an attempted transition did: applied, already in that terminal state (idempotent),
// conflicting terminal state, or no such order.
enum class transition_outcome { applied, unchanged, conflict, not_found };

// Pure rule: may `from` move to `to`? Only pending -> terminal, or the same terminal again.
transition_outcome check_transition(order_state from, order_state to) noexcept;

}  // namespace pokeflow
