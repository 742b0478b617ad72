#include "roles/api/api.hpp"

#include <algorithm>
#include <charconv>
#include <deque>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/http/server.hpp"
#include "core/json/codec.hpp"
#include "core/kafka/producer.hpp"
#include "core/log.hpp"
#include "core/pg/migrate.hpp"
#include "core/pg/params.hpp"
#include "core/pg/pool.hpp"
#include "roles/api/list_query.hpp"
#include "roles/api/sql.hpp"
#include "roles/api/web.hpp"
#include "roles/api/web_dashboard.hpp"

namespace pokeflow::roles::api {

namespace asio = boost::asio;
namespace http = core::http;
namespace pg = core::pg;
namespace json = core::json;
using namespace std::chrono_literals;

namespace {

order order_from_row(const pg::result& r, int row) {
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

http::response validation(json::validation_errors errs) {
  return http::response::json(422, json::encode_validation_errors(errs));
}

http::response single_validation(std::string where, std::string field, std::string msg, std::string type) {
  return validation({{{std::move(where), std::move(field)}, std::move(msg), std::move(type)}});
}

// 503 for a database that is down or overloaded, 500 for anything else.
web::failure db_failure(const pg::result& r, const core::log::logger& log) {
  if (r.retryable()) return {503, "database unavailable: " + r.message(), "1"};
  log.error("database error", {{"error", r.message()}, {"sqlstate", r.sqlstate()}});
  return {500, "database error", std::nullopt};
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

}  // namespace

struct api::impl : std::enable_shared_from_this<impl> {
  core::role_context ctx;
  api_config cfg;
  pg_config pgc;
  kafka_config kafka;
  pg::pool pool;
  std::shared_ptr<http::server> server;
  std::unique_ptr<core::kafka::producer> producer;
  std::shared_ptr<web::dashboard> dash;
  asio::steady_timer relay_wake{ctx.io};
  asio::steady_timer stats_timer{ctx.io};
  bool stopping = false;
  bool relay_done = false;
  bool stats_done = false;
  bool migrated = false;

  core::metrics::counter& orders_created;
  core::metrics::histogram& create_batch_size;
  core::metrics::counter& published;
  core::metrics::counter& relay_errors;
  core::metrics::gauge& backlog;
  core::metrics::gauge& backlog_age;
  core::metrics::counter& transitions_applied;
  core::metrics::counter& transitions_unchanged;
  core::metrics::counter& transitions_conflict;

  impl(core::role_context c, api_config a, pg_config p, kafka_config k)
      : ctx(c),
        cfg(std::move(a)),
        pgc(std::move(p)),
        kafka(std::move(k)),
        pool(ctx.io.get_executor(), pgc),
        orders_created(ctx.metrics.get_counter("pokeflow_orders_created_total", "Orders accepted (201)")),
        create_batch_size(ctx.metrics.get_histogram("pokeflow_create_batch_orders", "Orders written per INSERT statement",
                                                    {}, {1, 2, 4, 8, 16, 32, 64, 128, 256})),
        published(ctx.metrics.get_counter("pokeflow_outbox_published_total", "Outbox events published to Kafka")),
        relay_errors(ctx.metrics.get_counter("pokeflow_outbox_relay_errors_total",
                                             "Relay rounds that failed (database or Kafka)")),
        backlog(ctx.metrics.get_gauge("pokeflow_outbox_backlog", "Outbox events not yet published")),
        backlog_age(ctx.metrics.get_gauge("pokeflow_outbox_oldest_age_seconds",
                                          "Age of the oldest unpublished outbox event")),
        transitions_applied(ctx.metrics.get_counter("pokeflow_state_transitions_total",
                                                    "PUT /orders/{id} outcomes", {{"outcome", "applied"}})),
        transitions_unchanged(ctx.metrics.get_counter("pokeflow_state_transitions_total",
                                                      "PUT /orders/{id} outcomes", {{"outcome", "unchanged"}})),
        transitions_conflict(ctx.metrics.get_counter("pokeflow_state_transitions_total",
                                                     "PUT /orders/{id} outcomes", {{"outcome", "conflict"}})) {
    core::kafka::producer_options popts;
    popts.client_id = "pokeflow-api";
    popts.message_timeout = 10s;  // the relay retries a failed round itself
    producer = std::make_unique<core::kafka::producer>(ctx.io, kafka, popts);
    server = std::make_shared<http::server>(ctx.io, ctx.metrics, "api", http::server_limits::from(cfg));
    dash = std::make_shared<web::dashboard>(
        ctx.io, web::dashboard::sources{pool, kafka, cfg.dashboard_groups, backlog, backlog_age, ctx.metrics, ctx.log});
  }

  // ---- auth ----------------------------------------------------------------------------
  std::optional<http::response> check_auth(const http::request& req) const {
    auto h = req.header("Authorization");
    std::string_view prefix = "Bearer ";
    if (h && h->size() > prefix.size() && h->substr(0, prefix.size()) == prefix &&
        constant_time_equal(h->substr(prefix.size()), cfg.token))
      return std::nullopt;
    auto r = http::response::error(401, h ? "invalid bearer token" : "missing bearer token");
    r.headers.emplace("WWW-Authenticate", "Bearer");
    return r;
  }

  // ---- handlers ------------------------------------------------------------------------
  // One statement on a pooled connection; a failed acquire comes back as the result.
  asio::awaitable<pg::result> query_once(const char* statement, std::vector<pg::param> args = {}) {
    auto c = co_await pool.acquire();
    if (!c) co_return c.error();
    auto r = co_await c->query(statement, std::move(args));
    co_return r;
  }

  std::optional<http::response> not_started() const {
    if (auto f = not_ready()) return web::to_response(*f);
    return std::nullopt;
  }

  // ---- order creation with group commit -----------------------------------------------
  // Requests that arrive while a batch is being written queue up and go out together in the
  // next statement: at low load a batch is one order (one round trip), under load many
  // orders share one transaction and one WAL flush.
  struct pending_create {
    json::new_order in;
    std::optional<order> out;
    std::optional<pg::result> error;
    asio::steady_timer done;
    explicit pending_create(asio::io_context& io) : done(io, asio::steady_timer::time_point::max()) {}
  };
  std::deque<std::shared_ptr<pending_create>> create_queue;
  int create_flushers = 0;
  static constexpr std::size_t max_create_batch = 256;

  int max_create_flushers() const { return std::max(1, pgc.pool_size - 1); }  // keep one for reads and the relay

  static std::string array_literal(const std::vector<std::string>& items, bool quote) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += ',';
      if (!quote) {
        out += items[i];
        continue;
      }
      out += '"';
      for (char ch : items[i]) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
      }
      out += '"';
    }
    out += '}';
    return out;
  }

  asio::awaitable<void> flush_creates() {
    auto self = shared_from_this();
    ++create_flushers;
    while (!create_queue.empty()) {
      std::vector<std::shared_ptr<pending_create>> batch;
      while (!create_queue.empty() && batch.size() < max_create_batch) {
        batch.push_back(std::move(create_queue.front()));
        create_queue.pop_front();
      }
      std::vector<std::string> users, names, countries, prices;
      for (auto& b : batch) {
        users.push_back(std::to_string(b->in.user_id));
        names.push_back(b->in.pokemon);
        countries.push_back(b->in.country);
        prices.push_back(pg::param(b->in.price).text().value_or("0"));
      }
      std::vector<pg::param> args;
      args.emplace_back(array_literal(users, false));
      args.emplace_back(array_literal(names, true));
      args.emplace_back(array_literal(countries, true));
      args.emplace_back(array_literal(prices, false));
      args.emplace_back(kafka.orders_topic);
      auto c = co_await pool.acquire();
      if (!c) {
        for (auto& b : batch) b->error = c.error();
      } else {
        auto r = co_await c->query(sql::create_orders, std::move(args));
        c.release();
        if (!r || r.rows() != static_cast<int>(batch.size())) {
          for (auto& b : batch) b->error = r ? pg::result::failure(pg::error_kind::other, "batch insert returned " +
                                                                                            std::to_string(r.rows()) + " rows")
                                             : r;
        } else {
          for (int i = 0; i < r.rows(); ++i) batch[static_cast<std::size_t>(i)]->out = order_from_row(r, i);
          orders_created.inc(static_cast<double>(batch.size()));
          create_batch_size.observe(static_cast<double>(batch.size()));
          relay_wake.cancel();  // publish now rather than at the next poll
        }
      }
      for (auto& b : batch) b->done.cancel();
    }
    --create_flushers;
  }

  // Until migrations ran, the tables may not exist: say so instead of a 500.
  std::optional<web::failure> not_ready() const {
    if (migrated || !cfg.migrate_on_start) return std::nullopt;
    return web::failure{503, "starting: the database schema is not ready (is PostgreSQL reachable?)", "1"};
  }

  // The one way an order is created (POST /orders and the HTML form): queued for the next
  // group-commit batch, which writes it and its outbox row in one transaction.
  asio::awaitable<web::outcome<order>> submit(json::new_order in) {
    if (auto f = not_ready()) co_return *f;
    auto p = std::make_shared<pending_create>(ctx.io);
    p->in = std::move(in);
    create_queue.push_back(p);
    if (create_flushers < max_create_flushers()) asio::co_spawn(ctx.io, flush_creates(), asio::detached);
    boost::system::error_code ec;
    while (!p->out && !p->error) co_await p->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (p->error) co_return db_failure(*p->error, ctx.log);
    ctx.log.debug("order created", {{"order_id", p->out->id}});
    co_return std::move(*p->out);
  }

  // POST /orders, timed for the dashboard's p99.
  asio::awaitable<http::response> timed_create(http::request& req) {
    auto t0 = std::chrono::steady_clock::now();
    auto resp = co_await create(req);
    dash->observe_post(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    co_return resp;
  }

  asio::awaitable<http::response> create(http::request& req) {
    if (auto r = not_started()) co_return *r;
    if (!json_content_type(req)) co_return http::response::error(415, "Content-Type must be application/json");
    auto parsed = json::parse_new_order(req.body);
    if (auto* errs = std::get_if<json::validation_errors>(&parsed)) co_return validation(std::move(*errs));
    auto created = co_await submit(std::get<json::new_order>(std::move(parsed)));
    if (auto* f = std::get_if<web::failure>(&created)) co_return web::to_response(*f);
    const auto& o = std::get<order>(created);
    auto resp = http::response::json(201, json::encode_order(o));
    resp.headers.emplace("Location", "/orders/" + std::to_string(o.id));
    co_return resp;
  }

  // The GET /orders query (also the /list_orders page's).
  asio::awaitable<web::outcome<std::vector<order>>> list_orders(list_query q) {
    if (auto f = not_ready()) co_return *f;
    // Built outside the co_await expression: GCC 12 mishandles a conditional's temporary there.
    std::vector<pg::param> args;
    if (q.state) args.emplace_back(std::string(to_string(*q.state)));
    else args.emplace_back(std::nullopt);
    args.emplace_back(q.skip);
    args.emplace_back(q.limit);
    auto r = co_await query_once(sql::list_orders, std::move(args));
    if (!r) co_return db_failure(r, ctx.log);
    std::vector<order> orders;
    orders.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) orders.push_back(order_from_row(r, i));
    co_return orders;
  }

  asio::awaitable<http::response> list(http::request& req) {
    if (auto r = not_started()) co_return *r;
    auto q = parse_list_query(req.query);
    if (auto* errs = std::get_if<json::validation_errors>(&q)) co_return validation(std::move(*errs));
    auto orders = co_await list_orders(std::get<list_query>(q));
    if (auto* f = std::get_if<web::failure>(&orders)) co_return web::to_response(*f);
    co_return http::response::json(200, json::encode_orders(std::get<std::vector<order>>(orders)));
  }

  std::optional<std::int64_t> path_id(const http::request& req) {
    auto it = req.path_params.find("id");
    if (it == req.path_params.end()) return std::nullopt;
    auto v = parse_integer(it->second);
    if (!v || *v <= 0) return std::nullopt;
    return v;
  }

  asio::awaitable<http::response> get(http::request& req) {
    if (auto r = not_started()) co_return *r;
    auto id = path_id(req);
    if (!id) co_return single_validation("path", "id", "value is not a valid integer", "type_error.integer");
    auto r = co_await query_once(sql::get_order, pg::params(*id));
    if (!r) co_return web::to_response(db_failure(r, ctx.log));
    if (r.rows() == 0) co_return http::response::error(404, "order " + std::to_string(*id) + " not found");
    co_return http::response::json(200, json::encode_order(order_from_row(r, 0)));
  }

  asio::awaitable<http::response> update(http::request& req) {
    if (auto denied = check_auth(req)) co_return *denied;
    if (auto r = not_started()) co_return *r;
    auto id = path_id(req);
    if (!id) co_return single_validation("path", "id", "value is not a valid integer", "type_error.integer");
    if (!json_content_type(req)) co_return http::response::error(415, "Content-Type must be application/json");
    auto parsed = json::parse_state_update(req.body);
    if (auto* errs = std::get_if<json::validation_errors>(&parsed)) co_return validation(std::move(*errs));
    auto target = std::get<order_state>(parsed);
    auto c = co_await pool.acquire();
    if (!c) co_return web::to_response(db_failure(c.error(), ctx.log));
    // A concurrent writer can make the second branch see a stale 'pending'; the rerun then
    // sees the committed state.
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto r = co_await c->query(sql::transition, pg::params(*id, to_string(target)));
      if (!r) co_return web::to_response(db_failure(r, ctx.log));
      if (r.rows() == 0) co_return http::response::error(404, "order " + std::to_string(*id) + " not found");
      auto o = order_from_row(r, 0);
      bool applied = r.get(0, "applied") == "t";
      if (applied) {
        transitions_applied.inc();
        ctx.log.debug("order state changed", {{"order_id", o.id}, {"state", to_string(o.state)}});
        co_return http::response::json(200, json::encode_order(o));
      }
      switch (check_transition(o.state, target)) {
        case transition_outcome::applied:
          continue;  // stale snapshot: still pending, retry
        case transition_outcome::unchanged: {
          transitions_unchanged.inc();
          co_await c->query(sql::count_redelivery, pg::params(*id));
          co_return http::response::json(200, json::encode_order(o));
        }
        case transition_outcome::conflict: {
          transitions_conflict.inc();
          co_await c->query(sql::count_conflict, pg::params(*id));
          ctx.log.info("refused state change of a terminal order",
                       {{"order_id", o.id}, {"state", to_string(o.state)}, {"requested", to_string(target)}});
          co_return http::response::json(
              409, json::encode_conflict("order " + std::to_string(o.id) + " is already " + to_string(o.state) +
                                             "; terminal states never change",
                                         o.state));
        }
        case transition_outcome::not_found:
          co_return http::response::error(404, "order " + std::to_string(*id) + " not found");
      }
    }
    co_return http::response::error(503, "order " + std::to_string(*id) + " is contended, retry");
  }

  asio::awaitable<http::response> remove_all(http::request& req) {
    if (auto denied = check_auth(req)) co_return *denied;
    if (auto r = not_started()) co_return *r;
    auto r = co_await query_once(sql::delete_all);
    if (!r) co_return web::to_response(db_failure(r, ctx.log));
    ctx.log.warn("all orders deleted", {{"count", r.get_int(0, "n")}});
    co_return http::response::json(200, "{\"deleted\":" + std::string(r.get(0, "n")) + "}");
  }

  // ---- outbox relay --------------------------------------------------------------------
  // One round: claim up to relay_batch rows, publish them, delete what was acknowledged, all
  // inside one transaction. Returns rows published, or -1 on failure.
  asio::awaitable<int> relay_round() {
    auto c = co_await pool.acquire();
    if (!c) co_return -1;
    auto begin = co_await c->query("BEGIN");
    if (!begin) co_return -1;
    auto rows = co_await c->query(sql::claim_outbox, pg::params(cfg.relay_batch));
    if (!rows) {
      co_await c->query("ROLLBACK");
      ctx.log.warn("outbox claim failed", {{"error", rows.message()}});
      co_return -1;
    }
    if (rows.rows() == 0) {
      co_await c->query("COMMIT");
      co_return 0;
    }
    std::vector<std::string> keys;
    std::vector<std::string> payloads;
    std::vector<std::string> topics;
    std::vector<std::string> ids;
    keys.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) {
      ids.emplace_back(rows.get(i, "id"));
      keys.emplace_back(rows.get(i, "order_id"));
      topics.emplace_back(rows.get(i, "topic"));
      payloads.emplace_back(rows.get(i, "payload"));
    }
    std::vector<core::kafka::outgoing> out;
    out.reserve(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
      out.push_back({topics[i], core::kafka::unassigned_partition, keys[i], payloads[i], {}});
    auto results = co_await producer->produce_batch(out);
    std::string done = "{";
    int ok = 0;
    std::optional<std::string> first_error;
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i].ok()) {
        if (ok++) done += ',';
        done += ids[i];
      } else if (!first_error) {
        first_error = results[i].error->message;
      }
    }
    done += '}';
    if (ok > 0) {
      auto del = co_await c->query(sql::delete_outbox, pg::params(done));
      if (!del) {
        // Published but not deleted: they go out again later (an at-least-once duplicate).
        co_await c->query("ROLLBACK");
        ctx.log.warn("outbox delete failed", {{"error", del.message()}});
        co_return -1;
      }
    }
    auto commit = co_await c->query("COMMIT");
    if (!commit) {
      ctx.log.warn("outbox commit failed", {{"error", commit.message()}});
      co_return -1;
    }
    published.inc(ok);
    if (first_error) {
      ctx.log.warn("publishing outbox events failed; they stay in the outbox",
                   {{"failed", static_cast<std::int64_t>(results.size()) - ok}, {"error", *first_error}});
      co_return -1;
    }
    co_return ok;
  }

  asio::awaitable<void> relay_loop() {
    auto self = shared_from_this();
    auto backoff = 100ms;
    while (!stopping) {
      int n = co_await relay_round();
      std::chrono::milliseconds wait = cfg.relay_interval;
      if (n < 0) {
        relay_errors.inc();
        wait = backoff;
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
      } else {
        backoff = 100ms;
        if (n >= cfg.relay_batch) continue;  // more waiting: go again at once
      }
      if (stopping) break;
      relay_wake.expires_after(wait);
      boost::system::error_code ec;
      co_await relay_wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_await producer->flush(5s);
    relay_done = true;
  }

  asio::awaitable<void> stats_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      if (auto c = co_await pool.acquire(2s)) {
        auto r = co_await c->query(sql::outbox_stats);
        if (r) {
          backlog.set(static_cast<double>(r.get_int(0, "n")));
          backlog_age.set(r.get_double(0, "age"));
        }
      }
      stats_timer.expires_after(1s);
      boost::system::error_code ec;
      co_await stats_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    stats_done = true;
  }

  // Migrations at start, retried until PostgreSQL answers (requests get 503 meanwhile).
  asio::awaitable<void> start() {
    auto self = shared_from_this();
    if (cfg.migrate_on_start) {
      auto delay = 500ms;
      while (!stopping) {
        auto r = co_await pg::migrate(pool);
        if (r.status) {
          migrated = true;
          break;
        }
        ctx.log.error("cannot migrate the database; retrying",
                      {{"pg", pgc.host + ":" + std::to_string(pgc.port)}, {"error", r.status.message()}});
        stats_timer.expires_after(delay);
        boost::system::error_code ec;
        co_await stats_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        delay = std::min<std::chrono::milliseconds>(delay * 2, 5s);
      }
    }
    if (stopping) {
      relay_done = stats_done = true;
      co_return;
    }
    asio::co_spawn(ctx.io, relay_loop(), asio::detached);
    asio::co_spawn(ctx.io, stats_loop(), asio::detached);
  }
};

api::api(core::role_context ctx, api_config cfg, pg_config pg, kafka_config kafka)
    : impl_(std::make_shared<impl>(ctx, std::move(cfg), std::move(pg), std::move(kafka))) {
  auto* p = impl_.get();
  auto& s = *p->server;
  s.route("POST", "/orders", [p](http::request& r) { return p->timed_create(r); });
  s.route("GET", "/orders", [p](http::request& r) { return p->list(r); });
  s.route("DELETE", "/orders", [p](http::request& r) { return p->remove_all(r); });
  s.route("GET", "/orders/{id}", [p](http::request& r) { return p->get(r); });
  s.route("PUT", "/orders/{id}", [p](http::request& r) { return p->update(r); });
  web::backend web_backend;
  web_backend.create = [p](json::new_order o) { return p->submit(std::move(o)); };
  web_backend.list = [p](list_query q) { return p->list_orders(q); };
  web_backend.check_auth = [p](const http::request& r) { return p->check_auth(r); };
  web::add_routes(s, std::move(web_backend), p->dash, {p->cfg.max_body_bytes});
  s.listen(p->cfg.host, p->cfg.port);
  ctx.add_readiness("postgres", [p]() -> asio::awaitable<std::optional<std::string>> {
    co_return co_await p->pool.ping();
  });
  ctx.add_readiness("kafka", [p]() -> asio::awaitable<std::optional<std::string>> {
    co_return co_await p->producer->ping();
  });
  ctx.add_readiness("schema", [p]() -> asio::awaitable<std::optional<std::string>> {
    if (p->migrated || !p->cfg.migrate_on_start) co_return std::nullopt;
    co_return std::string("migrations not applied yet");
  });
}

api::~api() = default;

void api::run() {
  impl_->server->run();
  asio::co_spawn(impl_->ctx.io, impl_->start(), asio::detached);
  impl_->ctx.log.info("api listening", {{"host", impl_->cfg.host}, {"port", static_cast<int>(port())}});
}

void api::stop() noexcept {
  impl_->stopping = true;
  impl_->relay_wake.cancel();
  impl_->stats_timer.cancel();
  impl_->server->stop();
  impl_->dash->stop();
}

bool api::stopped() const noexcept {
  return impl_->relay_done && impl_->stats_done && impl_->server->stopped() && impl_->dash->stopped();
}

std::uint16_t api::port() const noexcept { return impl_->server->port(); }

}  // namespace pokeflow::roles::api
