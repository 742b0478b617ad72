#include "roles/api/order_row.hpp"

#include <string>

namespace pokeflow::roles::api {

order order_from_row(const core::pg::result& r, int row) {
  order o;
  o.id = r.get_int(row, "id");
  o.user_id = r.get_int(row, "user_id");
  o.pokemon = std::string(r.get(row, "pokemon"));
  o.country = std::string(r.get(row, "country"));
  o.price = r.get_double(row, "price");
  o.state = parse_order_state(r.get(row, "state")).value_or(order_state::pending);
  o.timestamp = std::string(r.get(row, "ts"));
  return o;
}

}  // namespace pokeflow::roles::api
