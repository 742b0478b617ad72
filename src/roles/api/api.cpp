#include "roles/api/api.hpp"

#include <algorithm>
#include <exception>
#include <functional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/http/server.hpp"
#include "core/kafka/producer.hpp"
#include "core/log.hpp"
#include "core/pg/migrate.hpp"
#include "core/pg/pool.hpp"
#include "core/supervisor.hpp"
#include "roles/api/create_batcher.hpp"
#include "roles/api/handlers.hpp"
#include "roles/api/outbox_relay.hpp"
#include "roles/api/outbox_stats.hpp"
#include "roles/api/transition_batcher.hpp"
#include "roles/api/web.hpp"
#include "roles/api/web_dashboard.hpp"

namespace pokeflow::roles::api {

namespace asio = boost::asio;
namespace http = core::http;
namespace pg = core::pg;
namespace json = core::json;
using namespace std::chrono_literals;

// Owns the api's parts and wires them: the HTTP handlers (handlers.cpp), the create and
// transition batchers (create_batcher.cpp, transition_batcher.cpp), the outbox relay (outbox_relay.cpp) and the outbox stats loop
// (outbox_stats.cpp), all sharing one PostgreSQL pool.
struct api::impl : std::enable_shared_from_this<impl> {
  core::role_context ctx;
  api_config cfg;
  pg_config pgc;
  kafka_config kafka;
  pg::pool pool;     // requests: creations, transitions, reads, readiness, the dashboard
  pg::pool bg_pool;  // the relay and the stats loop, one connection each: requests never wait behind them
  std::unique_ptr<core::kafka::producer> producer;
  std::shared_ptr<http::server> server;
  outbox_stats stats;
  std::shared_ptr<web::dashboard> dash;
  outbox_relay relay;
  std::shared_ptr<create_batcher> batcher;
  std::shared_ptr<transition_batcher> transitions;
  std::unique_ptr<order_handlers> handlers;
  asio::steady_timer start_timer{ctx.io};
  bool stopping = false;
  bool migrated = false;
  int running_tasks = 0;
  core::task_handle relay_task;
  core::task_handle stats_task;

  static std::unique_ptr<core::kafka::producer> make_producer(asio::io_context& io, const kafka_config& k) {
    core::kafka::producer_options popts;
    popts.client_id = "pokeflow-api";
    popts.message_timeout = 10s;  // the relay retries a failed round itself
    popts.linger = k.linger;
    return std::make_unique<core::kafka::producer>(io, k, popts);
  }

  static pg_config background_pool_config(pg_config p) {
    p.pool_size = 2;  // the relay's round and the stats sample, never waiting for each other
    return p;
  }

  // Create batches may use every connection but one, so GET, PUT, DELETE, readiness and the
  // dashboard (which share the pool) are never starved by a burst of creations.
  int max_create_flushers() const { return std::max(1, pgc.pool_size - 1); }
  // Transitions come from a few updater connections at a steady pace: half the pool lets one
  // batch fill while another is written, and leaves room for creations.
  int max_transition_flushers() const { return std::max(1, pgc.pool_size / 2); }

  impl(core::role_context c, api_config a, pg_config p, kafka_config k)
      : ctx(c),
        cfg(std::move(a)),
        pgc(std::move(p)),
        kafka(std::move(k)),
        pool(ctx.io.get_executor(), pgc),
        bg_pool(ctx.io.get_executor(), background_pool_config(pgc)),
        producer(make_producer(ctx.io, kafka)),
        server(std::make_shared<http::server>(ctx.io, ctx.metrics, "api", http::server_limits::from(cfg))),
        stats(ctx.io, bg_pool, ctx.metrics),
        dash(std::make_shared<web::dashboard>(ctx.io, web::dashboard::sources{pool, kafka, cfg.dashboard_groups,
                                                                              stats.backlog, stats.oldest_age,
                                                                              ctx.metrics, ctx.log})),
        relay(ctx.io, bg_pool, *producer, ctx.metrics, {cfg.relay_batch, cfg.relay_interval, kafka.linger}) {
    batcher = std::make_shared<create_batcher>(ctx.io, pool, ctx.metrics,
                                               create_batcher::options{kafka.orders_topic, max_create_flushers(), 256},
                                               [this] { relay.wake(); });
    transitions = std::make_shared<transition_batcher>(
        ctx.io, pool, ctx.metrics, transition_batcher::options{max_transition_flushers(), 256, 5});
    handlers = std::make_unique<order_handlers>(order_handlers::deps{
        cfg, pool, *batcher, *transitions, *dash, ctx.metrics, [this]() -> std::optional<web::failure> { return not_ready(); }});
  }

  // Until migrations ran, the tables may not exist: say so instead of a 500.
  std::optional<web::failure> not_ready() const {
    if (migrated || !cfg.migrate_on_start) return std::nullopt;
    return web::failure{503, "starting: the database schema is not ready (is PostgreSQL reachable?)", "1"};
  }

  // Migrations at start, retried until PostgreSQL answers (requests get 503 meanwhile).
  // Counted in running_tasks by api::run().
  asio::awaitable<void> start() {
    auto self = shared_from_this();
    if (cfg.migrate_on_start) {
      auto delay = 500ms;
      while (!stopping) {
        std::string error;
        try {
          auto r = co_await pg::migrate(pool);
          if (r.status) {
            migrated = true;
            break;
          }
          error = r.status.message();
        } catch (const std::exception& e) {
          error = e.what();
        }
        ctx.log.error("cannot migrate the database; retrying",
                         {{"pg", pgc.host + ":" + std::to_string(pgc.port)}, {"error", error}});
        start_timer.expires_after(delay);
        boost::system::error_code ec;
        co_await start_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        delay = std::min<std::chrono::milliseconds>(delay * 2, 5s);
      }
    }
    if (!stopping) {
      // The shared supervision policy (core/supervisor.hpp): logged, counted in
      // pokeflow_task_failures_total, restarted after a backoff; /readyz red meanwhile.
      relay_task = ctx.tasks.spawn("outbox_relay", [self] { return self->relay.run(); });
      stats_task = ctx.tasks.spawn("outbox_stats", [self] { return self->stats.run(); });
    }
    --running_tasks;
  }
};

api::api(core::role_context ctx, api_config cfg, pg_config pg, kafka_config kafka)
    : impl_(std::make_shared<impl>(ctx, std::move(cfg), std::move(pg), std::move(kafka))) {
  auto* p = impl_.get();
  auto* h = p->handlers.get();
  auto& s = *p->server;
  s.route("POST", "/orders", [h](http::request& r) { return h->create(r); });
  s.route("GET", "/orders", [h](http::request& r) { return h->list(r); });
  s.route("DELETE", "/orders", [h](http::request& r) { return h->remove_all(r); });
  s.route("GET", "/orders/{id}", [h](http::request& r) { return h->get(r); });
  s.route("PUT", "/orders/{id}", [h](http::request& r) { return h->update(r); });
  web::backend web_backend;
  web_backend.create = [h](json::new_order o) { return h->submit(std::move(o)); };
  web_backend.list = [h](list_query q) { return h->list_orders(q); };
  web_backend.check_auth = [h](const http::request& r) { return h->check_auth(r); };
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
  ++impl_->running_tasks;
  asio::co_spawn(impl_->ctx.io, impl_->start(), asio::detached);  // start() catches what it can
  impl_->ctx.log.info("api listening", {{"host", impl_->cfg.host}, {"port", static_cast<int>(port())}});
}

void api::stop() noexcept {
  impl_->stopping = true;
  impl_->start_timer.cancel();
  impl_->relay.stop();
  impl_->stats.stop();
  impl_->server->stop();
  impl_->dash->stop();
}

bool api::stopped() const noexcept {
  return impl_->running_tasks == 0 && impl_->relay_task.finished() && impl_->stats_task.finished() &&
         impl_->batcher->idle() && impl_->transitions->idle() && impl_->server->stopped() && impl_->dash->stopped();
}

std::uint16_t api::port() const noexcept { return impl_->server->port(); }

}  // namespace pokeflow::roles::api
