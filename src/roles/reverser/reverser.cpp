#include "roles/reverser/reverser.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
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
}  // namespace

struct reverser::impl : std::enable_shared_from_this<impl> {
  core::role_context ctx;
  reverser_config cfg;
  pg::pool pool;
  asio::steady_timer timer{ctx.io};
  bool stopping = false;
  bool done = false;
  core::metrics::counter& reversals;
  core::metrics::counter& rounds_failed;

  impl(core::role_context c, reverser_config r, const pg_config& p)
      : ctx(c),
        cfg(r),
        pool(ctx.io.get_executor(), p),
        reversals(ctx.metrics.get_counter("pokeflow_reversals_total", "Orders reversed after staying pending too long")),
        rounds_failed(ctx.metrics.get_counter("pokeflow_reverser_errors_total", "Reverser rounds that failed")) {}

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

reverser::reverser(core::role_context ctx, reverser_config cfg, pg_config pg)
    : impl_(std::make_shared<impl>(ctx, cfg, pg)) {
  auto* p = impl_.get();
  ctx.add_readiness("postgres", [p]() -> asio::awaitable<std::optional<std::string>> {
    co_return co_await p->pool.ping();
  });
}

reverser::~reverser() = default;

void reverser::run() { asio::co_spawn(impl_->ctx.io, impl_->loop(), asio::detached); }

void reverser::stop() noexcept {
  impl_->stopping = true;
  impl_->timer.cancel();
}

bool reverser::stopped() const noexcept { return impl_->done; }

}  // namespace pokeflow::roles::reverser
