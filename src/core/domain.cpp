#include "pokeflow/config.hpp"
#include "pokeflow/order.hpp"

namespace pokeflow {

const char* to_string(order_state s) noexcept {
  switch (s) {
    case order_state::pending: return "pending";
    case order_state::rejected: return "rejected";
    case order_state::failed: return "failed";
    case order_state::success: return "success";
    case order_state::reversed: return "reversed";
  }
  return "unknown";
}

std::optional<order_state> parse_order_state(std::string_view s) noexcept {
  if (s == "pending") return order_state::pending;
  if (s == "rejected") return order_state::rejected;
  if (s == "failed") return order_state::failed;
  if (s == "success") return order_state::success;
  if (s == "reversed") return order_state::reversed;
  return std::nullopt;
}

transition_outcome check_transition(order_state from, order_state to) noexcept {
  if (from == order_state::pending) {
    return to == order_state::pending ? transition_outcome::unchanged : transition_outcome::applied;
  }
  return from == to ? transition_outcome::unchanged : transition_outcome::conflict;
}

const char* to_string(role r) noexcept {
  switch (r) {
    case role::api: return "api";
    case role::fraud: return "fraud";
    case role::updater: return "updater";
    case role::reverser: return "reverser";
    case role::loadgen: return "loadgen";
  }
  return "unknown";
}

const char* to_string(log_level l) noexcept {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "unknown";
}

}  // namespace pokeflow
