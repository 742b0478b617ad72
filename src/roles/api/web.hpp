#pragma once
// The api's web face: /openapi.json, /docs (Swagger UI), the seed's HTML pages (/create_order,
// /list_orders), /dashboard and the embedded static files. Handlers live in web_*.cpp; api.cpp
// only registers them and hands over a backend made of its own JSON handlers' code paths, so
// an order created through the form is created exactly as POST /orders creates one.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/http/message.hpp"
#include "core/json/codec.hpp"
#include "pokeflow/order.hpp"
#include "roles/api/list_query.hpp"

namespace pokeflow::core::http {
class server;
}

namespace pokeflow::roles::api::web {

class dashboard;

// A request the backend could not serve: the status and the message the JSON routes answer
// with ({"detail": message}); retry_after is set for 503.
struct failure {
  unsigned status = 500;
  std::string detail;
  std::optional<std::string> retry_after;
};

template <class T>
using outcome = std::variant<T, failure>;

// What the pages need from the api role (implemented by handlers.cpp, wired in api.cpp).
struct backend {
  // The POST /orders path: group commit, order and outbox row in one transaction.
  std::function<boost::asio::awaitable<outcome<order>>(core::json::new_order)> create;
  // The GET /orders query.
  std::function<boost::asio::awaitable<outcome<std::vector<order>>>(list_query)> list;
  // nullopt when the request carries the api's bearer token, else the 401 to answer.
  std::function<std::optional<core::http::response>(const core::http::request&)> check_auth;
};

struct options {
  std::size_t max_body_bytes = 16 * 1024;  // documented as the 413 bound
};

// Registers every web route on the api's server. Throws std::invalid_argument on a clash.
void add_routes(core::http::server& server, backend b, std::shared_ptr<dashboard> dash, options opts);

// The HTTP response of a failure, as the JSON routes send it.
core::http::response to_response(const failure& f);

}  // namespace pokeflow::roles::api::web
