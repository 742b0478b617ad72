// The reverser's re-driver against the real stack: an order a foreign consumer made fraud skip
// is re-published through the outbox and decided, once, with no state change but its decision.
#include <catch2/catch.hpp>

#include <signal.h>

#include <string>

#include "harness.hpp"

using namespace pokeflow::test;
using namespace std::chrono_literals;

namespace {
void require_ready(pipeline& p, const std::string& role) {
  INFO(p.procs.at(role)->log());
  REQUIRE(p.wait_ready(role, 60s));
}
}  // namespace

TEST_CASE("a pending order whose event never reached fraud is re-driven and decided once", "[pipeline][redrive]") {
  pipeline_options o;
  o.reverser = false;
  pipeline p(o);
  for (auto r : {"api", "fraud", "updater"}) require_ready(p, r);
  // As if a foreign consumer in fraud's group had committed past their messages: stored,
  // pending, not in the outbox, a few seconds old.
  auto insert = [](int user, const std::string& pokemon) {
    return psql_int("INSERT INTO poke_orders (user_id, pokemon, country, price, \"timestamp\") VALUES (" +
                    std::to_string(user) + ", '" + pokemon +
                    "', 'Chile', 10, now() - interval '5 seconds') RETURNING id");
  };
  auto ok = insert(1, "Pikachu");
  auto refused = insert(5, "Pikachu");  // user 5 is blocked: rejected
  // A decided order is never re-driven.
  auto decided = p.create_order(1, "Mew", 10);
  REQUIRE(eventually([&] { return p.state_of(decided) == "success"; }, 60s));
  psql("UPDATE poke_orders SET \"timestamp\" = now() - interval '5 seconds' WHERE id = " + std::to_string(decided));
  CHECK(p.state_of(ok) == "pending");
  p.start("reverser", {"--redrive-after=2s", "--reverser-interval=1s", "--reverser-timeout=5m"});
  require_ready(p, "reverser");
  INFO(p.procs.at("reverser")->log());
  REQUIRE(eventually([&] { return p.state_of(ok) == "success" && p.state_of(refused) == "rejected"; }, 60s));
  auto ids = std::to_string(ok) + "," + std::to_string(refused);
  CHECK(psql_int("SELECT min(redrives) FROM poke_orders WHERE id IN (" + ids + ")") >= 1);
  CHECK(psql_int("SELECT redrives FROM poke_orders WHERE id = " + std::to_string(decided)) == 0);
  // One transition each, pending -> decision: the re-drive is an event, not a state change.
  CHECK(psql_int("SELECT count(*) FROM poke_order_transitions WHERE order_id IN (" + ids + ")") == 2);
  CHECK(psql_int("SELECT count(*) FROM poke_order_transitions WHERE order_id IN (" + ids +
                 ") AND from_state <> 'pending'") == 0);
  auto redriven = metric(p.metrics("reverser"), "pokeflow_orders_redriven_total");
  REQUIRE(redriven);
  CHECK(*redriven >= 2);
  // Readiness names every supervised task as healthy, and SIGTERM still drains to 0.
  CHECK(http(p.admin_ports.at("reverser"), "GET", "/readyz").status == 200);
  auto& rev = *p.procs.at("reverser");
  rev.signal(SIGTERM);
  CHECK(rev.wait(20s) == std::optional<int>(0));
}
