#include "core/pg/migrate.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "core/log.hpp"

namespace pokeflow::core::pg {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

// Bound on each migration statement (and on waiting for another migrator's lock).
constexpr std::chrono::milliseconds migration_timeout{120000};

constexpr std::string_view v1_orders = R"sql(
CREATE TYPE order_state AS ENUM ('pending','rejected','failed','success','reversed');
CREATE TABLE poke_orders (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  pokemon TEXT NOT NULL,
  country TEXT NOT NULL,
  price DOUBLE PRECISION NOT NULL,
  state order_state NOT NULL DEFAULT 'pending',
  "timestamp" TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX poke_orders_pending ON poke_orders ("timestamp") WHERE state = 'pending';
CREATE INDEX poke_orders_state ON poke_orders (state, id);
-- transactional outbox: rows are deleted once published
CREATE TABLE poke_outbox (
  id BIGSERIAL PRIMARY KEY,
  order_id BIGINT NOT NULL,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
-- every state change, whoever made it (a trigger, so a hand-made UPDATE is recorded too)
CREATE TABLE poke_order_transitions (
  id BIGSERIAL PRIMARY KEY,
  order_id BIGINT NOT NULL,
  from_state order_state NOT NULL,
  to_state order_state NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
CREATE INDEX poke_order_transitions_order ON poke_order_transitions (order_id);
CREATE FUNCTION poke_orders_record_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO poke_order_transitions (order_id, from_state, to_state)
  VALUES (NEW.id, OLD.state, NEW.state);
  RETURN NULL;
END
$$;
CREATE TRIGGER poke_orders_transition
  AFTER UPDATE OF state ON poke_orders
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION poke_orders_record_transition();
)sql";

// How often a decision arrived again for an order already in that state (at-least-once
// redelivery, answered 200) or asked for another state of a terminal order (answered 409).
// Reported by `pokeflow verify`; the updates that bump them leave `state` alone, so the
// transition trigger does not fire.
constexpr std::string_view v2_delivery_counters = R"sql(
ALTER TABLE poke_orders ADD COLUMN redeliveries INT NOT NULL DEFAULT 0;
ALTER TABLE poke_orders ADD COLUMN conflicts INT NOT NULL DEFAULT 0;
)sql";

// When the reverser last re-published a pending order's event (a re-drive) and how often:
// a re-drive waits --redrive-after since the last one. Leaves `state` alone, so the transition
// trigger does not fire.
constexpr std::string_view v3_redrive = R"sql(
ALTER TABLE poke_orders ADD COLUMN redriven_at TIMESTAMPTZ;
ALTER TABLE poke_orders ADD COLUMN redrives INT NOT NULL DEFAULT 0;
)sql";

constexpr migration all_migrations[] = {
    {1, "orders, outbox, transitions", v1_orders},
    {2, "delivery counters", v2_delivery_counters},
    {3, "re-drive marker", v3_redrive},
};

migrate_outcome failed(migrate_outcome out, const result& r, std::string_view what) {
  out.status = result::failure(r.kind(), std::string(what) + ": " + r.message(), r.sqlstate());
  return out;
}

awaitable<migrate_outcome> apply_pending(connection& c) {
  migrate_outcome out;
  auto r = co_await c.script(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "version int PRIMARY KEY, applied_at timestamptz DEFAULT now())");
  if (!r) co_return failed(std::move(out), r, "creating schema_migrations");
  r = co_await c.query("SELECT version FROM schema_migrations");
  if (!r) co_return failed(std::move(out), r, "reading schema_migrations");
  std::set<int> done;
  for (int i = 0; i < r.rows(); ++i) done.insert(static_cast<int>(r.get_int(i, "version")));

  for (const auto& m : migrations()) {
    if (done.count(m.version)) continue;
    const std::string what = "migration " + std::to_string(m.version) + " (" + std::string(m.name) + ")";
    r = co_await c.query("BEGIN");
    if (r) r = co_await c.script(std::string(m.sql));
    if (r) r = co_await c.query("INSERT INTO schema_migrations (version) VALUES ($1)", m.version);
    if (r) r = co_await c.query("COMMIT");
    if (!r) {
      if (c.in_transaction()) co_await c.query("ROLLBACK");
      co_return failed(std::move(out), r, what);
    }
    out.applied.push_back(m.version);
    log::info("migration applied", {{"version", m.version}, {"name", m.name}});
  }
  out.version = done.empty() ? 0 : *done.rbegin();
  if (!out.applied.empty()) out.version = std::max(out.version, out.applied.back());
  co_return out;
}

}  // namespace

std::span<const migration> migrations() noexcept { return all_migrations; }

awaitable<migrate_outcome> migrate(pool& p) {
  migrate_outcome out;
  auto c = co_await p.acquire();
  if (!c) co_return failed(std::move(out), c.error(), "migrate");
  // A migration (an index build, or waiting for another migrator's lock) may take longer
  // than a request's query: it gets its own, wider bound, on both sides, for this session.
  const auto normal = c->query_timeout();
  c->set_query_timeout(migration_timeout);
  auto r = co_await c->query("SELECT set_config('statement_timeout', $1, false)",
                             std::to_string(migration_timeout.count()));
  if (!r) co_return failed(std::move(out), r, "setting the migration timeout");
  // Session-level lock: a second migrator waits here until the first has finished.
  r = co_await c->query("SELECT pg_advisory_lock($1)", migration_lock_key);
  if (!r) co_return failed(std::move(out), r, "taking the migration lock");
  out = co_await apply_pending(*c);
  r = co_await c->query("SELECT pg_advisory_unlock($1)", migration_lock_key);
  if (r) r = co_await c->query("RESET statement_timeout");
  if (!r) {
    // Ending the session is what releases the lock now; never pool a connection holding it.
    c->close();
    log::warn("releasing the migration lock failed; connection closed", {{"error", r.message()}});
  }
  c->set_query_timeout(normal);
  co_return out;
}

migrate_outcome migrate_blocking(const pg_config& cfg) {
  asio::io_context io{1};
  std::optional<migrate_outcome> out;
  std::exception_ptr error;
  {
    pool p(io.get_executor(), cfg.conninfo(), pool_options{1, cfg.connect_timeout, cfg.connect_timeout, cfg.query_timeout});
    asio::co_spawn(io, migrate(p), [&](std::exception_ptr e, migrate_outcome o) {
      error = e;
      out = std::move(o);
    });
    io.run();
  }
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

}  // namespace pokeflow::core::pg
