#include "roles/reverser/reverser.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/order_event_sql.hpp"
#include "core/pg/params.hpp"
#include "core/pg/pool.hpp"

namespace pokeflow::roles::reverser {

namespace asio = boost::asio;
namespace pg = core::pg;
using namespace std::chrono_literals;

namespace {
// Claims a bounded batch with SKIP LOCKED so several replicas split the work instead of
// waiting on each other, and re-checks state = 'pending' under the row lock (the guard).
// $1 T in milliseconds, $2 batch size.
constexpr const char* reverse_batch =
    "WITH c AS (SELECT id FROM poke_orders WHERE state = 'pending' "
    "AND \"timestamp\" < clock_timestamp() - make_interval(secs => $1::double precision / 1000) "
    "ORDER BY \"timestamp\" LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "UPDATE poke_orders o SET state = 'reversed', updated_at = clock_timestamp() FROM c "
    "WHERE o.id = c.id AND o.state = 'pending' RETURNING o.id";

// Re-drive: a pending order older than A (and younger than T, which the reversal owns) whose
// event is not waiting in the outbox and was not re-driven within A gets its event written to
// the outbox again, the same payload the api's group commit writes, so the relay re-publishes
// it and fraud and the updater absorb it like any redelivery. Marked in the same statement;
// SKIP LOCKED lets replicas split the work. $1 A in ms, $2 T in ms, $3 batch size, $4 topic.
constexpr const char* redrive_batch =
    "WITH c AS (SELECT o.id FROM poke_orders o WHERE o.state = 'pending' "
    "AND o.\"timestamp\" < clock_timestamp() - make_interval(secs => $1::double precision / 1000) "
    "AND o.\"timestamp\" >= clock_timestamp() - make_interval(secs => $2::double precision / 1000) "
    "AND (o.redriven_at IS NULL OR o.redriven_at < clock_timestamp() - make_interval(secs => $1::double precision / 1000)) "
    "AND NOT EXISTS (SELECT 1 FROM poke_outbox x WHERE x.order_id = o.id) "
    "ORDER BY o.\"timestamp\" LIMIT $3 FOR UPDATE OF o SKIP LOCKED), "
    "r AS (UPDATE poke_orders o SET redriven_at = clock_timestamp(), redrives = o.redrives + 1 FROM c "
    "WHERE o.id = c.id AND o.state = 'pending' "
    "RETURNING o.id, o.user_id, o.pokemon, o.country, o.price, o.state::text AS state, " POKEFLOW_SQL_ORDER_TS " AS ts), "
    "ob AS (INSERT INTO poke_outbox (order_id, topic, payload) SELECT id, $4, " POKEFLOW_SQL_ORDER_EVENT " FROM r) "
    "SELECT id FROM r ORDER BY id";
}  // namespace

struct reverser::impl : std::enable_shared_from_this<impl> {
  core::role_context ctx;
  reverser_config cfg;
  pg::pool pool;
  std::string orders_topic;
  asio::steady_timer timer{ctx.io};
  asio::steady_timer redrive_timer{ctx.io};
  bool stopping = false;
  bool done = false;
  bool redrive_done = false;
  core::task_handle task;
  core::task_handle redrive_task;
  core::metrics::counter& reversals;
  core::metrics::counter& rounds_failed;
  core::metrics::counter& redriven;
  core::metrics::counter& redrive_failed;

  impl(core::role_context c, reverser_config r, const pg_config& p, std::string topic)
      : ctx(c),
        cfg(r),
        pool(ctx.io.get_executor(), p),
        orders_topic(std::move(topic)),
        reversals(ctx.metrics.get_counter("pokeflow_reversals_total", "Orders reversed after staying pending too long")),
        rounds_failed(ctx.metrics.get_counter("pokeflow_reverser_errors_total", "Reverser rounds that failed")),
        redriven(ctx.metrics.get_counter("pokeflow_orders_redriven_total",
                                         "Pending orders whose event was re-published through the outbox")),
        redrive_failed(ctx.metrics.get_counter("pokeflow_redrive_errors_total", "Re-drive rounds that failed")) {}

  bool redrive_enabled() const { return cfg.redrive_after.count() > 0 && cfg.redrive_after < cfg.pending_timeout; }
  std::chrono::milliseconds redrive_period() const {
    return std::max<std::chrono::milliseconds>(cfg.redrive_after / 2, std::chrono::milliseconds(100));
  }

  // One bounded batch per round, so a long outage of fraud costs at most `batch` duplicate
  // events per period. Returns false on a database error.
  asio::awaitable<bool> redrive_round() {
    auto c = co_await pool.acquire();
    if (!c) {
      ctx.log.warn("re-driver cannot reach PostgreSQL", {{"error", c.error().message()}});
      co_return false;
    }
    auto r = co_await c->query(redrive_batch,
                               pg::params(static_cast<std::int64_t>(cfg.redrive_after.count()),
                                          static_cast<std::int64_t>(cfg.pending_timeout.count()), cfg.batch, orders_topic));
    if (!r) {
      ctx.log.warn("re-drive batch failed", {{"error", r.message()}});
      co_return false;
    }
    for (int i = 0; i < r.rows(); ++i)
      ctx.log.info("order re-driven: pending with no decision, event re-published",
                      {{"order_id", r.get_int(i, "id")}, {"topic", orders_topic}});
    redriven.inc(static_cast<double>(r.rows()));
    co_return true;
  }

  asio::awaitable<void> redrive_loop() {
    auto self = shared_from_this();
    ctx.log.info("re-driver started", {{"redrive_after_ms", static_cast<std::int64_t>(cfg.redrive_after.count())},
                                          {"period_ms", static_cast<std::int64_t>(redrive_period().count())}});
    while (!stopping) {
      if (!co_await redrive_round()) redrive_failed.inc();
      if (stopping) break;
      redrive_timer.expires_after(redrive_period());
      boost::system::error_code ec;
      co_await redrive_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    redrive_done = true;
  }

  // Reverses batches until fewer than a full batch is left. Returns false on a database error.
  asio::awaitable<bool> round() {
    auto c = co_await pool.acquire();
    if (!c) {
      ctx.log.warn("reverser cannot reach PostgreSQL", {{"error", c.error().message()}});
      co_return false;
    }
    while (!stopping) {
      auto r = co_await c->query(reverse_batch, pg::params(static_cast<std::int64_t>(cfg.pending_timeout.count()), cfg.batch));
      if (!r) {
        ctx.log.warn("reverse batch failed", {{"error", r.message()}});
        co_return false;
      }
      for (int i = 0; i < r.rows(); ++i)
        ctx.log.info("order reversed", {{"order_id", r.get_int(i, "id")}});
      reversals.inc(static_cast<double>(r.rows()));
      if (r.rows() < cfg.batch) break;
    }
    co_return true;
  }

  asio::awaitable<void> loop() {
    auto self = shared_from_this();
    ctx.log.info("reverser started", {{"interval_ms", static_cast<std::int64_t>(cfg.interval.count())},
                                      {"timeout_ms", static_cast<std::int64_t>(cfg.pending_timeout.count())}});
    while (!stopping) {
      if (!co_await round()) rounds_failed.inc();
      if (stopping) break;
      timer.expires_after(cfg.interval);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    done = true;
  }
};

reverser::reverser(core::role_context ctx, reverser_config cfg, pg_config pg, std::string orders_topic)
    : impl_(std::make_shared<impl>(ctx, cfg, pg, std::move(orders_topic))) {
  auto* p = impl_.get();
  ctx.add_readiness("postgres", [p]() -> asio::awaitable<std::optional<std::string>> {
    co_return co_await p->pool.ping();
  });
}

reverser::~reverser() = default;

void reverser::run() {
  // Restartable: each round re-reads its work from PostgreSQL, so a restart loses nothing.
  impl_->task = impl_->ctx.tasks.spawn("reverser", [p = impl_] { return p->loop(); });
  if (impl_->redrive_enabled()) {
    impl_->redrive_task = impl_->ctx.tasks.spawn("redriver", [p = impl_] { return p->redrive_loop(); });
  } else {
    impl_->redrive_done = true;
    impl_->ctx.log.info("re-driver off (--redrive-after is 0 or not below --reverser-timeout)",
                    {{"redrive_after_ms", static_cast<std::int64_t>(impl_->cfg.redrive_after.count())}});
  }
}

void reverser::stop() noexcept {
  impl_->stopping = true;
  impl_->timer.cancel();
  impl_->redrive_timer.cancel();
}

bool reverser::stopped() const noexcept {
  return (impl_->done || impl_->task.finished()) && (impl_->redrive_done || impl_->redrive_task.finished());
}

}  // namespace pokeflow::roles::reverser
