#pragma once
// JSON codecs for domain types (the only RapidJSON includer). Field names and shapes match
// the seed's FastAPI service so its clients keep working.
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pokeflow/limits.hpp"
#include "pokeflow/order.hpp"

namespace pokeflow::core::json {

// One entry of FastAPI's 422 body: {"loc":["body","price"],"msg":"...","type":"..."}.
struct validation_error {
  std::vector<std::string> loc;
  std::string msg;
  std::string type;
};
using validation_errors = std::vector<validation_error>;

struct new_order {
  std::int64_t user_id = 0;
  std::string pokemon;
  std::string country;
  double price = 0;
};

inline constexpr std::size_t max_name_length = limits::name_max_length;
inline constexpr double max_price = limits::price_max;

// POST /orders body. Every problem is reported, not just the first.
std::variant<new_order, validation_errors> parse_new_order(std::string_view body);
// PUT /orders/{id} body: {"state": "success"|"rejected"|"failed"|"reversed"}; the other
// order fields may be present (the seed's updater sent the whole order) and are ignored.
std::variant<order_state, validation_errors> parse_state_update(std::string_view body);

std::string encode_order(const order& o);
std::string encode_orders(const std::vector<order>& orders);
std::string encode_validation_errors(const validation_errors& errors);
// {"detail": "...", "state": "..."} for a 409 on a terminal order.
std::string encode_conflict(std::string_view message, order_state current);

// An order read from Kafka. The error string names the problem (poison message).
// require_state: the message must carry a terminal "state" (poke-orders-state).
std::variant<order, std::string> decode_order_message(std::string_view payload, bool require_state);

}  // namespace pokeflow::core::json
