#pragma once
// The query of GET /orders and GET /list_orders: ?state=&skip=&limit=. Pure logic.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/json/codec.hpp"
#include "pokeflow/limits.hpp"
#include "pokeflow/order.hpp"

namespace pokeflow::roles::api {

struct list_query {
  std::optional<order_state> state;  // nullopt: every state
  std::int64_t skip = 0;
  std::int64_t limit = limits::list_limit_default;
};

// A whole decimal integer ("20", "-3", also "20.0" and "2e1"), or nullopt (fractions,
// anything past int64, trailing text).
std::optional<std::int64_t> parse_integer(std::string_view s);

// Reads state (empty = any), skip and limit from decoded query parameters; every problem is
// reported in FastAPI's 422 shape with loc ["query", name].
std::variant<list_query, core::json::validation_errors> parse_list_query(
    const std::map<std::string, std::string>& query);

}  // namespace pokeflow::roles::api
