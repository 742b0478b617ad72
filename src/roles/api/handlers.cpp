#include "roles/api/handlers.hpp"

#include <algorithm>
#include <chrono>

#include "core/log.hpp"
#include "core/pg/params.hpp"
#include "core/pg/pool.hpp"
#include "roles/api/create_batcher.hpp"
#include "roles/api/order_row.hpp"
#include "roles/api/sql.hpp"
#include "roles/api/transition_batcher.hpp"
#include "roles/api/web_dashboard.hpp"

namespace pokeflow::roles::api {

namespace {
// The api role's own lines carry "role":"api" like the rest of the role's.
const core::log::logger api_log{"api"};
}  // namespace

namespace asio = boost::asio;
namespace http = core::http;
namespace pg = core::pg;
namespace json = core::json;

namespace {

http::response validation(json::validation_errors errs) {
  return http::response::json(422, json::encode_validation_errors(errs));
}

http::response single_validation(std::string where, std::string field, std::string msg, std::string type) {
  return validation({{{std::move(where), std::move(field)}, std::move(msg), std::move(type)}});
}

bool json_content_type(const http::request& req) {
  auto ct = req.header("Content-Type");
  if (!ct) return false;
  std::string v(ct->substr(0, ct->find(';')));
  v.erase(std::remove(v.begin(), v.end(), ' '), v.end());
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "application/json";
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.size() ? b.size() : 1)]);
  return diff == 0;
}

std::optional<std::int64_t> path_id(const http::request& req) {
  auto it = req.path_params.find("id");
  if (it == req.path_params.end()) return std::nullopt;
  auto v = parse_integer(it->second);
  if (!v || *v <= 0) return std::nullopt;
  return v;
}

}  // namespace

web::failure db_failure(const pg::result& r) {
  if (r.retryable()) return {503, "database unavailable: " + r.message(), "1"};
  api_log.error("database error", {{"error", r.message()}, {"sqlstate", r.sqlstate()}});
  return {500, "database error", std::nullopt};
}

web::failure create_failure(const pg::result& r) {
  // Data exceptions (22xxx: e.g. a byte sequence that is not UTF-8) and integrity violations
  // (23xxx) are about this order's values; the batcher already isolated it from others.
  const auto& s = r.sqlstate();
  if (!r.retryable() && (s.rfind("22", 0) == 0 || s.rfind("23", 0) == 0)) {
    api_log.info("the database refused an order", {{"sqlstate", s}, {"error", r.message()}});
    return {422, "the database refused this order: " + r.message(), std::nullopt};
  }
  return db_failure(r);
}

order_handlers::order_handlers(deps d)
    : d_(std::move(d)),
      transitions_applied_(d_.metrics.get_counter("pokeflow_state_transitions_total", "PUT /orders/{id} outcomes",
                                                  {{"outcome", "applied"}})),
      transitions_unchanged_(d_.metrics.get_counter("pokeflow_state_transitions_total", "PUT /orders/{id} outcomes",
                                                    {{"outcome", "unchanged"}})),
      transitions_conflict_(d_.metrics.get_counter("pokeflow_state_transitions_total", "PUT /orders/{id} outcomes",
                                                   {{"outcome", "conflict"}})) {}

std::optional<http::response> order_handlers::check_auth(const http::request& req) const {
  auto h = req.header("Authorization");
  std::string_view prefix = "Bearer ";
  if (h && h->size() > prefix.size() && h->substr(0, prefix.size()) == prefix &&
      constant_time_equal(h->substr(prefix.size()), d_.cfg.token))
    return std::nullopt;
  auto r = http::response::error(401, h ? "invalid bearer token" : "missing bearer token");
  r.headers.emplace("WWW-Authenticate", "Bearer");
  return r;
}

std::optional<http::response> order_handlers::not_started() const {
  if (auto f = d_.not_ready()) return web::to_response(*f);
  return std::nullopt;
}

asio::awaitable<web::outcome<order>> order_handlers::submit(json::new_order in) {
  if (auto f = d_.not_ready()) co_return *f;
  auto r = co_await d_.batcher.submit(std::move(in));
  if (!r.created) co_return create_failure(r.error);
  api_log.debug("order created", {{"order_id", r.created->id}});
  co_return std::move(*r.created);
}

asio::awaitable<http::response> order_handlers::create(http::request& req) {
  auto t0 = std::chrono::steady_clock::now();
  auto resp = co_await create_untimed(req);
  d_.dash.observe_post(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  co_return resp;
}

asio::awaitable<http::response> order_handlers::create_untimed(http::request& req) {
  if (auto r = not_started()) co_return *r;
  if (!json_content_type(req)) co_return http::response::error(415, "Content-Type must be application/json");
  auto parsed = json::parse_new_order(req.body);
  if (auto* errs = std::get_if<json::validation_errors>(&parsed)) co_return validation(std::move(*errs));
  auto created = co_await submit(std::get<json::new_order>(std::move(parsed)));
  if (auto* f = std::get_if<web::failure>(&created)) {
    // In FastAPI's 422 shape, like the validator's own.
    if (f->status == 422) co_return validation({{{"body"}, f->detail, "value_error.database"}});
    co_return web::to_response(*f);
  }
  const auto& o = std::get<order>(created);
  auto resp = http::response::json(201, json::encode_order(o));
  resp.headers.emplace("Location", "/orders/" + std::to_string(o.id));
  co_return resp;
}

asio::awaitable<web::outcome<std::vector<order>>> order_handlers::list_orders(list_query q) {
  if (auto f = d_.not_ready()) co_return *f;
  // Built outside the co_await expression: GCC 12 mishandles a conditional's temporary there.
  std::vector<pg::param> args;
  if (q.state) args.emplace_back(std::string(to_string(*q.state)));
  else args.emplace_back(std::nullopt);
  args.emplace_back(q.skip);
  args.emplace_back(q.limit);
  auto c = co_await d_.pool.acquire();
  if (!c) co_return db_failure(c.error());
  auto r = co_await c->query(sql::list_orders, std::move(args));
  if (!r) co_return db_failure(r);
  std::vector<order> orders;
  orders.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) orders.push_back(order_from_row(r, i));
  co_return orders;
}

asio::awaitable<http::response> order_handlers::list(http::request& req) {
  if (auto r = not_started()) co_return *r;
  auto q = parse_list_query(req.query);
  if (auto* errs = std::get_if<json::validation_errors>(&q)) co_return validation(std::move(*errs));
  auto orders = co_await list_orders(std::get<list_query>(q));
  if (auto* f = std::get_if<web::failure>(&orders)) co_return web::to_response(*f);
  co_return http::response::json(200, json::encode_orders(std::get<std::vector<order>>(orders)));
}

asio::awaitable<http::response> order_handlers::get(http::request& req) {
  if (auto r = not_started()) co_return *r;
  auto id = path_id(req);
  if (!id) co_return single_validation("path", "id", "value is not a valid integer", "type_error.integer");
  auto c = co_await d_.pool.acquire();
  if (!c) co_return web::to_response(db_failure(c.error()));
  auto r = co_await c->query(sql::get_order, pg::params(*id));
  if (!r) co_return web::to_response(db_failure(r));
  if (r.rows() == 0) co_return http::response::error(404, "order " + std::to_string(*id) + " not found");
  co_return http::response::json(200, json::encode_order(order_from_row(r, 0)));
}

asio::awaitable<http::response> order_handlers::update(http::request& req) {
  if (auto denied = check_auth(req)) co_return *denied;
  if (auto r = not_started()) co_return *r;
  auto id = path_id(req);
  if (!id) co_return single_validation("path", "id", "value is not a valid integer", "type_error.integer");
  if (!json_content_type(req)) co_return http::response::error(415, "Content-Type must be application/json");
  auto parsed = json::parse_state_update(req.body);
  if (auto* errs = std::get_if<json::validation_errors>(&parsed)) co_return validation(std::move(*errs));
  auto target = std::get<order_state>(parsed);
  // Shares a statement and a transaction with the other PUTs waiting now (transition_batcher).
  auto r = co_await d_.transitions.submit(*id, target);
  if (!r.error.ok()) co_return web::to_response(db_failure(r.error));
  if (r.contended || !r.verdict) {
    auto busy = http::response::error(503, "order " + std::to_string(*id) + " is contended, retry");
    busy.headers.emplace("Retry-After", "1");
    co_return busy;
  }
  switch (*r.verdict) {
    case transition_verdict::not_found:
    case transition_verdict::stale:  // never returned: the batcher runs it again or says contended
      break;
    case transition_verdict::applied:
      transitions_applied_.inc();
      api_log.debug("order state changed", {{"order_id", *id}, {"state", to_string(target)}});
      co_return http::response::json(200, json::encode_order(*r.current));
    case transition_verdict::unchanged:
      transitions_unchanged_.inc();
      co_return http::response::json(200, json::encode_order(*r.current));
    case transition_verdict::conflict: {
      transitions_conflict_.inc();
      const auto& o = *r.current;
      api_log.info("refused state change of a terminal order",
                   {{"order_id", o.id}, {"state", to_string(o.state)}, {"requested", to_string(target)}});
      co_return http::response::json(
          409, json::encode_conflict("order " + std::to_string(o.id) + " is already " + to_string(o.state) +
                                         "; terminal states never change",
                                     o.state));
    }
  }
  co_return http::response::error(404, "order " + std::to_string(*id) + " not found");
}

asio::awaitable<http::response> order_handlers::remove_all(http::request& req) {
  if (auto denied = check_auth(req)) co_return *denied;
  if (auto r = not_started()) co_return *r;
  auto c = co_await d_.pool.acquire();
  if (!c) co_return web::to_response(db_failure(c.error()));
  auto r = co_await c->query(sql::delete_all);
  if (!r) co_return web::to_response(db_failure(r));
  api_log.warn("all orders deleted", {{"count", r.get_int(0, "n")}});
  co_return http::response::json(200, "{\"deleted\":" + std::string(r.get(0, "n")) + "}");
}

}  // namespace pokeflow::roles::api
