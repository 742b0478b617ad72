// Against the real local PostgreSQL (scripts/stack.sh up). Everything destructive
// happens in a private schema per test case, dropped at the end; the shared tables
// are only ever migrated, never dropped.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/pg/array_literal.hpp"
#include "core/pg/migrate.hpp"
#include "core/pg/pool.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace pg = pokeflow::core::pg;
using asio::awaitable;

namespace {

pokeflow::pg_config stack_config() {
  pokeflow::pg_config c;
  if (const char* p = std::getenv("POKEFLOW_STACK_PG_PORT"); p && *p) c.port = static_cast<std::uint16_t>(std::atoi(p));
  return c;
}

// Runs one coroutine to completion on `io`, rethrowing its exception; fails the test
// if it does not finish in time (a hang is a bug, not a slow test).
template <class F>
auto run(asio::io_context& io, F make, std::chrono::seconds limit = 60s) {
  using T = typename decltype(make())::value_type;
  std::optional<T> value;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, make(), [&](std::exception_ptr e, T v) {
    error = e;
    value = std::move(v);
    done = true;
  });
  io.restart();
  io.run_for(limit);
  if (!done) FAIL("coroutine did not finish within " << limit.count() << "s");
  if (error) std::rethrow_exception(error);
  return std::move(*value);
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// A schema of our own, so tests can migrate from scratch and drop everything after.
struct scratch_schema {
  asio::io_context& io;
  pokeflow::pg_config cfg = stack_config();
  std::string name;

  explicit scratch_schema(asio::io_context& i) : io(i) {
    std::random_device rd;
    name = "pgtest_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000);
    auto r = admin("CREATE SCHEMA " + name);
    INFO("creating a scratch schema on the local stack's PostgreSQL (scripts/stack.sh up): " << r.message());
    REQUIRE(r.ok());
  }
  ~scratch_schema() {
    try {
      admin("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    } catch (...) {
    }
  }
  pg::result admin(std::string sql) {
    pg::pool p(io.get_executor(), cfg.conninfo(), {1, 3000ms, 5000ms});
    return run(io, [&]() -> awaitable<pg::result> {
      auto c = co_await p.acquire();
      if (!c) co_return c.error();
      co_return co_await c->query(sql);
    });
  }
  // Connections from this pool see the scratch schema first.
  std::string conninfo() const { return cfg.conninfo() + " options='-csearch_path=" + name + "'"; }
};

}  // namespace

TEST_CASE("pg: migrate twice is harmless and the transition trigger records state changes", "[pg]") {
  asio::io_context io{1};
  scratch_schema schema(io);
  pg::pool p(io.get_executor(), schema.conninfo(), {2, 3000ms, 5000ms});

  auto first = run(io, [&] { return pg::migrate(p); });
  INFO(first.status.message());
  REQUIRE(first.status.ok());
  std::vector<int> all;
  for (const auto& m : pg::migrations()) all.push_back(m.version);
  CHECK(first.applied == all);
  CHECK(first.version == all.back());

  auto second = run(io, [&] { return pg::migrate(p); });
  REQUIRE(second.status.ok());
  CHECK(second.applied.empty());
  CHECK(second.version == all.back());

  auto r = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    auto ins = co_await c->query(
        "INSERT INTO poke_orders (user_id, pokemon, country, price) VALUES ($1, $2, $3, $4) RETURNING id, state",
        7, "pikachu", "CL", 12.5);
    if (!ins) co_return ins;
    auto id = ins.get_int(0, "id");
    CHECK(ins.get(0, "state") == "pending");
    auto u1 = co_await c->query("UPDATE poke_orders SET state = 'success' WHERE id = $1 AND state = 'pending'", id);
    CHECK(u1.affected() == 1);
    // Guarded update: a late result is a no-op, and an unchanged state records nothing.
    auto u2 = co_await c->query("UPDATE poke_orders SET state = 'failed' WHERE id = $1 AND state = 'pending'", id);
    CHECK(u2.affected() == 0);
    co_await c->query("UPDATE poke_orders SET state = state WHERE id = $1", id);
    co_return co_await c->query(
        "SELECT from_state::text AS f, to_state::text AS t FROM poke_order_transitions WHERE order_id = $1", id);
  });
  INFO(r.message());
  REQUIRE(r.ok());
  REQUIRE(r.rows() == 1);
  CHECK(r.get(0, "f") == "pending");
  CHECK(r.get(0, "t") == "success");
}

TEST_CASE("pg: two pools migrating at once apply each version exactly once", "[pg]") {
  asio::io_context io{1};
  scratch_schema schema(io);
  pg::pool a(io.get_executor(), schema.conninfo(), {1, 3000ms, 5000ms});
  pg::pool b(io.get_executor(), schema.conninfo(), {1, 3000ms, 5000ms});
  std::optional<pg::migrate_outcome> ra, rb;
  asio::co_spawn(io, pg::migrate(a), [&](std::exception_ptr, pg::migrate_outcome o) { ra = std::move(o); });
  asio::co_spawn(io, pg::migrate(b), [&](std::exception_ptr, pg::migrate_outcome o) { rb = std::move(o); });
  io.restart();
  io.run_for(60s);
  REQUIRE(ra);
  REQUIRE(rb);
  INFO(ra->status.message() << " / " << rb->status.message());
  CHECK(ra->status.ok());
  CHECK(rb->status.ok());
  // One of them did all the work, the other found nothing left to do.
  auto n = pg::migrations().size();
  CHECK(((ra->applied.size() == n && rb->applied.empty()) || (rb->applied.size() == n && ra->applied.empty())));
  CHECK(ra->version == pg::migrations().back().version);
  CHECK(rb->version == pg::migrations().back().version);
}

TEST_CASE("pg: migrating the shared database twice is harmless", "[pg]") {
  // What `pokeflow migrate` and every api replica do at start.
  auto one = pg::migrate_blocking(stack_config());
  INFO("PostgreSQL at the local stack (scripts/stack.sh up) must be reachable: " << one.status.message());
  REQUIRE(one.status.ok());
  auto two = pg::migrate_blocking(stack_config());
  REQUIRE(two.status.ok());
  CHECK(two.applied.empty());
  CHECK(two.version == pg::migrations().back().version);
}

TEST_CASE("pg: parameters round-trip NULLs, quotes and numbers", "[pg]") {
  asio::io_context io{1};
  scratch_schema schema(io);
  pg::pool p(io.get_executor(), schema.conninfo(), {2, 3000ms, 5000ms});
  REQUIRE(run(io, [&] { return pg::migrate(p); }).status.ok());
  const std::string tricky = "Farfetch'd \"quoted\" \\back; DROP TABLE poke_orders; -- é";

  auto sel = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    co_return co_await c->query("SELECT $1::text AS a, $2::text AS b, $3::bigint AS n, $4::float8 AS d",
                                tricky, std::nullopt, std::int64_t{-9007199254740993}, 0.1);
  });
  REQUIRE(sel.ok());
  CHECK(sel.get(0, "a") == tricky);
  CHECK(sel.is_null(0, "b"));
  CHECK_FALSE(sel.value(0, "b").has_value());
  CHECK(sel.get_int(0, "n") == -9007199254740993);
  CHECK(sel.get_double(0, "d") == 0.1);
  CHECK(sel.column("missing") == -1);
  CHECK_THROWS_AS(sel.get(0, "missing"), std::out_of_range);

  // A transaction on one leased connection.
  auto tx = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    co_await c->query("BEGIN");
    auto ins = co_await c->query(
        "INSERT INTO poke_orders (user_id, pokemon, country, price) VALUES ($1, $2, $3, $4) RETURNING id", 1, tricky,
        "CL", 3.0);
    if (!ins) co_return ins;
    co_await c->query("INSERT INTO poke_outbox (order_id, topic, payload) VALUES ($1, 'poke-orders', $2)",
                      ins.get_int(0, "id"), "{}");
    co_await c->query("COMMIT");
    CHECK_FALSE(c->in_transaction());
    co_return co_await c->query("SELECT o.pokemon, x.payload FROM poke_orders o JOIN poke_outbox x ON x.order_id = o.id");
  });
  REQUIRE(tx.ok());
  REQUIRE(tx.rows() == 1);
  CHECK(tx.get(0, "pokemon") == tricky);

  // A constraint violation is returned, not thrown, and is not retryable.
  auto bad = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    co_return co_await c->query("INSERT INTO poke_orders (user_id, pokemon, country, price) VALUES ($1, NULL, 'CL', 1)",
                                1);
  });
  CHECK_FALSE(bad.ok());
  CHECK(bad.sqlstate() == "23502");
  CHECK(bad.kind() == pg::error_kind::constraint);
  CHECK_FALSE(bad.retryable());
  CHECK(bad.message().find("pokemon") != std::string::npos);
}

TEST_CASE("pg: a slow query does not block the io_context", "[pg]") {
  asio::io_context io{1};
  pg::pool p(io.get_executor(), stack_config());
  int ticks = 0;
  bool finished = false;
  auto r = run(io, [&]() -> awaitable<pg::result> {
    // Parameters, not captures: a coroutine lambda's captures die with the temporary.
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [](int& n, bool& stop) -> awaitable<void> {
          while (!stop) {
            co_await sleep_for(20ms);
            ++n;
          }
        }(ticks, finished),
        asio::detached);
    auto c = co_await p.acquire();
    if (!c) co_return c.error();
    auto res = co_await c->query("SELECT pg_sleep(0.5)");
    finished = true;
    co_return res;
  });
  INFO(r.message());
  REQUIRE(r.ok());
  CHECK(ticks >= 10);
}

TEST_CASE("pg: an exhausted pool makes acquire wait, then proceed or time out", "[pg]") {
  asio::io_context io{1};
  pg::pool p(io.get_executor(), stack_config().conninfo(), {2, 3000ms, 5000ms});
  auto res = run(io, [&]() -> awaitable<std::string> {
    auto a = co_await p.acquire();
    auto b = co_await p.acquire();
    if (!a || !b) co_return "acquire failed: " + a.error().message() + b.error().message();
    CHECK(p.stats().open == 2);
    auto short_wait = co_await p.acquire(100ms);
    CHECK_FALSE(short_wait);
    CHECK(short_wait.error().kind() == pg::error_kind::timeout);
    CHECK(short_wait.error().retryable());

    auto start = std::chrono::steady_clock::now();
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [](pg::lease& l) -> awaitable<void> {
          co_await sleep_for(300ms);
          l.release();
        }(a),
        asio::detached);
    auto c = co_await p.acquire();
    auto waited = std::chrono::steady_clock::now() - start;
    if (!c) co_return "third acquire failed: " + c.error().message();
    CHECK(waited >= 250ms);
    auto q = co_await c->query("SELECT 1 AS one");
    CHECK(q.get_int(0, "one") == 1);
    CHECK(p.stats().open == 2);
    co_return "";
  });
  CHECK(res == "");
}

TEST_CASE("pg: a killed backend gives a retryable error and the pool reconnects", "[pg]") {
  asio::io_context io{1};
  pg::pool p(io.get_executor(), stack_config().conninfo(), {1, 3000ms, 5000ms});
  pg::pool killer(io.get_executor(), stack_config().conninfo(), {1, 3000ms, 5000ms});
  auto kill = [&](int pid) -> awaitable<pg::result> {
    auto k = co_await killer.acquire();
    if (!k) co_return k.error();
    // The timeout variant waits until the backend has really exited.
    co_return co_await k->query("SELECT pg_terminate_backend($1, 5000) AS done", pid);
  };
  auto out = run(io, [&]() -> awaitable<std::string> {
    int first_pid = 0;
    {
      auto c = co_await p.acquire();
      if (!c) co_return "acquire: " + c.error().message();
      first_pid = c->backend_pid();
      auto k = co_await kill(first_pid);
      if (!k || k.get(0, "done") != "t") co_return "terminate: " + k.message();
      auto q = co_await c->query("SELECT 1");
      CHECK_FALSE(q.ok());
      CHECK(q.retryable());
      CHECK((q.kind() == pg::error_kind::shutdown || q.kind() == pg::error_kind::connection));
      CHECK_FALSE(c->healthy());
    }
    int second_pid = 0;
    {
      auto c = co_await p.acquire();
      if (!c) co_return "reconnect: " + c.error().message();
      auto q = co_await c->query("SELECT pg_backend_pid() AS pid");
      if (!q) co_return "after reconnect: " + q.message();
      second_pid = static_cast<int>(q.get_int(0, "pid"));
      CHECK(second_pid != first_pid);
    }
    // Killed while idle in the pool: acquire notices and hands out a fresh connection.
    auto k = co_await kill(second_pid);
    if (!k) co_return "terminate idle: " + k.message();
    auto c = co_await p.acquire();
    if (!c) co_return "reconnect after idle kill: " + c.error().message();
    auto q = co_await c->query("SELECT pg_backend_pid() AS pid");
    if (!q) co_return "query after idle kill: " + q.message();
    CHECK(q.get_int(0, "pid") != second_pid);
    co_return "";
  });
  CHECK(out == "");
}

TEST_CASE("pg: ping reports why PostgreSQL is unreachable", "[pg]") {
  asio::io_context io{1};
  pg::pool good(io.get_executor(), stack_config());
  auto ok = run(io, [&] { return good.ping(); });
  INFO("PostgreSQL at the local stack (scripts/stack.sh up) must be reachable: " << ok.value_or(""));
  CHECK_FALSE(ok.has_value());

  // A port nobody listens on: grab a free one and close it again.
  std::uint16_t port = 0;
  {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto cfg = stack_config();
  cfg.port = port;
  pg::pool bad(io.get_executor(), cfg);
  auto reason = run(io, [&] { return bad.ping(); });
  REQUIRE(reason.has_value());
  CHECK(reason->find("refused") != std::string::npos);
  CHECK(reason->find('\n') == std::string::npos);

  // A listener that never answers: the connect timeout fires instead of hanging.
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  cfg.port = silent.local_endpoint().port();
  cfg.connect_timeout = 300ms;
  pg::pool mute(io.get_executor(), cfg);
  auto start = std::chrono::steady_clock::now();
  auto lease_error = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await mute.acquire();
    co_return c.error();
  });
  CHECK(lease_error.kind() == pg::error_kind::timeout);
  CHECK(std::chrono::steady_clock::now() - start < 2s);

  // A malformed connection string is a configuration error, not an outage.
  pg::pool garbled(io.get_executor(), "host='127.0.0.1 port=", {1, 1000ms, 1000ms});
  auto garbled_error = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await garbled.acquire();
    co_return c.error();
  });
  CHECK(garbled_error.kind() == pg::error_kind::invalid);
  CHECK_FALSE(garbled_error.retryable());
}

TEST_CASE("pg: array literals arrive in PostgreSQL as exactly the texts sent", "[pg]") {
  asio::io_context io{1};
  pg::pool p(io.get_executor(), stack_config());
  const std::vector<std::string> items{"plain", "say \"hi\"", "back\\slash", "\\", "{braces}", "a,b", " spaced ",
                                       "", "NULL", "null", "Pokémon 日本", "'); DROP TABLE poke_orders; --",
                                       "line\nbreak\ttab", "\"{,}\\\""};
  const auto literal = pg::array_literal(items);
  auto r = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    if (!c) co_return c.error();
    co_return co_await c->query(
        "SELECT t, t IS NULL AS is_null, n FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n", literal);
  });
  INFO(r.message());
  REQUIRE(r.ok());
  REQUIRE(r.rows() == static_cast<int>(items.size()));
  for (int i = 0; i < r.rows(); ++i) {
    CHECK(r.get(i, "t") == items[static_cast<std::size_t>(i)]);
    CHECK(r.get(i, "is_null") == "f");  // "NULL" stays the text NULL
  }

  // Numbers travel the same way into typed arrays (lists built outside co_await: GCC 12).
  const auto numbers = pg::array_literal({"1.5", "-2", "1e2"});
  const auto none = pg::array_literal({});
  auto n = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    if (!c) co_return c.error();
    co_return co_await c->query("SELECT sum(x)::text AS s, count(*) AS k FROM unnest($1::float8[]) AS u(x)", numbers);
  });
  REQUIRE(n.ok());
  CHECK(n.get(0, "s") == "99.5");
  CHECK(n.get(0, "k") == "3");
  auto empty = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    if (!c) co_return c.error();
    co_return co_await c->query("SELECT count(*) AS k FROM unnest($1::bigint[]) AS u(x)", none);
  });
  REQUIRE(empty.ok());
  CHECK(empty.get(0, "k") == "0");
}

TEST_CASE("pg: a query past its client deadline is a retryable timeout and its connection is dropped", "[pg]") {
  asio::io_context io{1};
  auto cfg = stack_config();
  pg::pool p(io.get_executor(), cfg.conninfo(), {1, 3000ms, 5000ms, 300ms});
  int first_pid = 0;
  std::chrono::steady_clock::duration took{};
  auto r = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    if (!c) co_return c.error();
    first_pid = c->backend_pid();
    // The server-side bound off for this session, so only the client's deadline can end it.
    auto off = co_await c->query("SET statement_timeout = 0");
    if (!off) co_return off;
    auto t0 = std::chrono::steady_clock::now();
    auto q = co_await c->query("SELECT pg_sleep(3)");
    took = std::chrono::steady_clock::now() - t0;
    CHECK_FALSE(c->healthy());
    co_return q;
  });
  INFO(r.message());
  CHECK(r.kind() == pg::error_kind::timeout);
  CHECK(r.retryable());
  CHECK(took >= 250ms);
  CHECK(took < 2s);
  // The pool did not keep it: the next lease is a fresh session that works.
  auto next = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    if (!c) co_return c.error();
    CHECK(c->backend_pid() != first_pid);
    co_return co_await c->query("SELECT 1 AS one");
  });
  INFO(next.message());
  CHECK(next.ok());
}

TEST_CASE("pg: the configured query timeout is also the server's statement_timeout", "[pg]") {
  asio::io_context io{1};
  auto cfg = stack_config();
  cfg.query_timeout = 300ms;
  // No client deadline here: the server must cancel the statement itself (57014).
  pg::pool p(io.get_executor(), cfg.conninfo(), {1, 3000ms, 5000ms, 0ms});
  auto r = run(io, [&]() -> awaitable<pg::result> {
    auto c = co_await p.acquire();
    if (!c) co_return c.error();
    co_return co_await c->query("SELECT pg_sleep(3)");
  });
  INFO(r.message());
  CHECK(r.sqlstate() == "57014");
  CHECK(r.kind() == pg::error_kind::timeout);
}
