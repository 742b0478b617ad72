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

// What an attempted transition does to an existing order: applied, already in that terminal
// state (idempotent), or a conflicting terminal state. (No such order is the caller's 404.)
enum class transition_outcome { applied, unchanged, conflict };

// Pure rule: may `from` move to `to`? Only pending -> terminal, or the same terminal again.
transition_outcome check_transition(order_state from, order_state to) noexcept;

}  // namespace pokeflow
