#pragma once
// An order as the api's statements return it (sql::POKEFLOW_ORDER_COLUMNS).
#include "core/pg/result.hpp"
#include "pokeflow/order.hpp"

namespace pokeflow::roles::api {

// Throws (pg::result's std::out_of_range / std::invalid_argument) when a column is missing
// or not a number: a statement and this reader out of step is a bug, not bad input.
order order_from_row(const core::pg::result& r, int row);

}  // namespace pokeflow::roles::api
