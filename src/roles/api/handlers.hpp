#pragma once
// The api's JSON HTTP handlers (POST/GET/PUT/DELETE /orders...): parse and validate the
// request, call the database (directly, or through the create and transition batchers), map the outcome to a
// status. A database that is down, slow or overloaded is 503 with Retry-After; an order the
// database refuses is 422; anything else is a logged 500.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/http/message.hpp"
#include "core/json/codec.hpp"
#include "core/metrics.hpp"
#include "core/pg/result.hpp"
#include "pokeflow/config.hpp"
#include "pokeflow/order.hpp"
#include "roles/api/list_query.hpp"
#include "roles/api/web.hpp"

namespace pokeflow::core::pg {
class pool;
}

namespace pokeflow::roles::api {

class create_batcher;
class transition_batcher;

// 503 + Retry-After for a database that is down, slow or overloaded; 500 (logged) otherwise.
web::failure db_failure(const core::pg::result& r);
// For one order PostgreSQL refused on its own (a value or constraint it rejects): 422.
web::failure create_failure(const core::pg::result& r);

class order_handlers {
 public:
  struct deps {
    const api_config& cfg;
    core::pg::pool& pool;
    create_batcher& batcher;
    transition_batcher& transitions;
    web::dashboard& dash;
    core::metrics::registry& metrics;
    // Set while the schema is not migrated yet: the failure to answer with.
    std::function<std::optional<web::failure>()> not_ready;
  };
  explicit order_handlers(deps d);

  // nullopt when the request carries the bearer token, else the 401 to answer.
  std::optional<core::http::response> check_auth(const core::http::request& req) const;

  // The one way an order is created (POST /orders and the HTML form).
  boost::asio::awaitable<web::outcome<order>> submit(core::json::new_order in);
  // The GET /orders query (also the /list_orders page's).
  boost::asio::awaitable<web::outcome<std::vector<order>>> list_orders(list_query q);

  boost::asio::awaitable<core::http::response> create(core::http::request& req);  // POST /orders
  boost::asio::awaitable<core::http::response> list(core::http::request& req);    // GET /orders
  boost::asio::awaitable<core::http::response> get(core::http::request& req);     // GET /orders/{id}
  boost::asio::awaitable<core::http::response> update(core::http::request& req);  // PUT /orders/{id}
  boost::asio::awaitable<core::http::response> remove_all(core::http::request& req);  // DELETE /orders

 private:
  boost::asio::awaitable<core::http::response> create_untimed(core::http::request& req);
  std::optional<core::http::response> not_started() const;

  deps d_;
  core::metrics::counter& transitions_applied_;
  core::metrics::counter& transitions_unchanged_;
  core::metrics::counter& transitions_conflict_;
};

}  // namespace pokeflow::roles::api
