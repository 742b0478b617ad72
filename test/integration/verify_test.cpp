// `pokeflow verify` against the real PostgreSQL of the local stack. The orders are written
// with SQL the way the api writes them (insert pending, then a guarded update), so these
// tests need no pipeline; the faults (a deleted order, one left pending, one flipped by hand)
// are made with plain SQL as an operator would.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/pg/migrate.hpp"
#include "harness.hpp"
#include "core/fraud_rules.hpp"
#include "core/ledger.hpp"

using namespace pokeflow::core::ledger;  // the ledger format shared by loadgen and verify

using namespace pokeflow;
using namespace pokeflow::test;
using namespace std::chrono_literals;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void stack_ready() {
  auto ready = source_dir() + "/.stack/READY";
  bool ok = eventually([&] { return std::ifstream(ready).good(); }, 120s);
  if (!ok) FAIL("the local stack is not up: " << ready << " missing after 120 s (run scripts/stack.sh up)");
  auto out = core::pg::migrate_blocking(pg_config{});
  if (!out.status) FAIL("migrate failed: " << out.status.message());
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

// An order as the api stores it, then decided like the pipeline would (or left pending).
// created_ago backdates its creation (to play the reverser's T).
ledger_row make_order(std::int64_t user, const std::string& pokemon, double price,
                          std::optional<std::string> final_state, int created_ago_s = 0) {
  char p[32];
  std::snprintf(p, sizeof p, "%.2f", price);
  auto id = psql_int("INSERT INTO poke_orders (user_id, pokemon, country, price, \"timestamp\", updated_at) VALUES (" +
                     std::to_string(user) + ", " + quote(pokemon) + ", 'Chile', " + p + ", now() - interval '" +
                     std::to_string(created_ago_s) + " seconds', now() - interval '" + std::to_string(created_ago_s) +
                     " seconds') RETURNING id");
  if (final_state)
    psql("UPDATE poke_orders SET state = " + quote(*final_state) + ", updated_at = now() WHERE id = " +
         std::to_string(id) + " AND state = 'pending'");
  auto acked = now_us();
  return {id, user, pokemon, "Chile", std::stod(p), acked - 2000, acked - 1000, acked};
}

std::string rules_file() { return source_dir() + "/config/fraud-rules.ini"; }

// The decision the seed's rules give.
std::string decide(std::int64_t user, const std::string& pokemon, double price) {
  order o;
  o.user_id = user;
  o.pokemon = pokemon;
  o.price = price;
  return to_string(core::fraud::decide(o, core::fraud::load_rules(rules_file())));
}

// A set of correctly finalized orders covering both decisions.
std::vector<ledger_row> clean_set() {
  std::vector<ledger_row> rows;
  const char* names[] = {"Pikachu", "Ditto", "Snorlax", "Abra", "Feebas", "Mew", "Eevee", "Mr. Mime", "Farfetch'd"};
  for (int i = 0; i < 18; ++i) {
    std::int64_t user = 1 + i % 6;
    std::string name = names[i % 9];
    double price = (i * 37) % 300 + 0.25;
    rows.push_back(make_order(user, name, price, decide(user, name, price)));
  }
  return rows;
}

std::string write_ledger(const std::vector<ledger_row>& rows) {
  static int n = 0;
  auto path = "/tmp/pokeflow-verify-it-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".csv";
  ledger_writer w(path);
  for (const auto& r : rows) w.append(r);
  w.flush();
  return path;
}

struct verify_run {
  int status;
  std::string json;    // stdout: the JSON summary
  std::string table;   // stderr
  std::int64_t count(const std::string& key) const {
    auto v = json_field(json, key);
    if (!v) throw std::runtime_error("no '" + key + "' in verify output: " + json + "\n" + table);
    return std::stoll(*v);
  }
};

verify_run verify(const std::string& args) {
  auto err = "/tmp/pokeflow-verify-it-" + std::to_string(::getpid()) + ".err";
  auto r = sh(pokeflow_binary() + " verify --fraud-rules " + rules_file() + " " + args + " 2>" + err);
  std::ifstream in(err);
  std::string table((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(err.c_str());
  return {r.status, r.out, table};
}

}  // namespace

TEST_CASE("verify passes on a clean set of finalized orders", "[verify]") {
  stack_ready();
  auto rows = clean_set();
  // one reversed after pending longer than T (30 s here)
  rows.push_back(make_order(1, "Pikachu", 10, "reversed", 40));
  auto ledger = write_ledger(rows);
  auto json_path = ledger + ".json";
  auto v = verify("--ledger " + ledger + " --deadline 60s --reverser-timeout 30s --json " + json_path);
  INFO(v.table << v.json);
  REQUIRE(v.status == 0);
  REQUIRE(v.count("acknowledged") == std::int64_t(rows.size()));
  REQUIRE(v.count("terminal") == std::int64_t(rows.size()));
  REQUIRE(v.count("violations") == 0);
  REQUIRE(v.count("reversed") == 1);
  REQUIRE(json_field(v.json, "ok") == "true");
  std::ifstream written(json_path);
  std::string file((std::istreambuf_iterator<char>(written)), std::istreambuf_iterator<char>());
  REQUIRE(file == v.json);
  std::remove(ledger.c_str());
  std::remove(json_path.c_str());
}

TEST_CASE("verify fails when an acknowledged order was deleted", "[verify]") {
  stack_ready();
  auto rows = clean_set();
  auto ledger = write_ledger(rows);
  psql("DELETE FROM poke_orders WHERE id = " + std::to_string(rows[3].order_id));
  auto v = verify("--ledger " + ledger);
  INFO(v.table << v.json);
  REQUIRE(v.status == 1);
  REQUIRE(v.count("lost") == 1);
  REQUIRE(v.count("violations") == 1);
  REQUIRE(v.count("acknowledged") == std::int64_t(rows.size()));
  REQUIRE_THAT(v.json, Catch::Contains("\"lost\":[" + std::to_string(rows[3].order_id) + "]"));
  std::remove(ledger.c_str());
}

TEST_CASE("verify fails on an order left pending past the deadline, not on one in flight", "[verify]") {
  stack_ready();
  auto rows = clean_set();
  auto in_flight = make_order(2, "Pikachu", 5, std::nullopt);
  rows.push_back(in_flight);
  auto stuck = make_order(2, "Snorlax", 5, std::nullopt);
  stuck.acked_us -= 120'000'000;  // acknowledged two minutes ago
  rows.push_back(stuck);
  auto ledger = write_ledger(rows);
  auto v = verify("--ledger " + ledger + " --deadline 60s");
  INFO(v.table << v.json);
  REQUIRE(v.status == 1);
  REQUIRE(v.count("stuck_pending") == 1);
  REQUIRE(v.count("in_flight") == 1);
  REQUIRE(v.count("violations") == 1);
  REQUIRE(v.count("pending") == 2);
  REQUIRE(v.count("terminal") == std::int64_t(rows.size()) - 2);

  // --wait re-checks: finishing the stuck one while verify waits turns the run green.
  psql("UPDATE poke_orders SET state = 'success', updated_at = now() WHERE id = " + std::to_string(stuck.order_id) +
       " AND state = 'pending'");
  std::thread finisher([&] {
    std::this_thread::sleep_for(1500ms);
    psql("UPDATE poke_orders SET state = 'success', updated_at = now() WHERE id = " +
         std::to_string(in_flight.order_id) + " AND state = 'pending'");
  });
  v = verify("--ledger " + ledger + " --deadline 60s --wait 20s");
  finisher.join();
  INFO(v.table << v.json);
  REQUIRE(v.status == 0);
  REQUIRE(v.count("in_flight") == 0);
  REQUIRE(v.count("rounds") >= 2);
  std::remove(ledger.c_str());
}

TEST_CASE("verify fails on a terminal order flipped by hand", "[verify]") {
  stack_ready();
  auto rows = clean_set();
  auto ledger = write_ledger(rows);
  // rows[0]: user 1, Pikachu, cheap -> success; an operator "fixes" it.
  REQUIRE(decide(rows[0].user_id, rows[0].pokemon, rows[0].price) == "success");
  psql("UPDATE poke_orders SET state = 'reversed' WHERE id = " + std::to_string(rows[0].order_id));
  auto v = verify("--ledger " + ledger);
  INFO(v.table << v.json);
  REQUIRE(v.status == 1);
  REQUIRE(v.count("flipped") == 1);
  REQUIRE(v.count("wrong_decision") == 0);
  REQUIRE(v.count("violations") == 1);
  std::remove(ledger.c_str());
}

TEST_CASE("verify catches wrong decisions, early reversals and corrupted fields", "[verify]") {
  stack_ready();
  std::vector<ledger_row> rows;
  rows.push_back(make_order(5, "Pikachu", 10, "success"));       // user 5 must be rejected
  rows.push_back(make_order(1, "Pikachu", 10, "failed"));        // failed is never right
  rows.push_back(make_order(1, "Pikachu", 10, "reversed", 1));   // reversed long before T
  auto corrupted = make_order(1, "Pikachu", 10, "success");
  corrupted.pokemon = "Raichu";  // the client was told something else was stored
  rows.push_back(corrupted);
  auto ledger = write_ledger(rows);
  auto v = verify("--ledger " + ledger + " --reverser-timeout 30s");
  INFO(v.table << v.json);
  REQUIRE(v.status == 1);
  REQUIRE(v.count("wrong_decision") == 3);
  REQUIRE(v.count("corrupted") == 1);
  REQUIRE(v.count("violations") == 4);
  std::remove(ledger.c_str());
}

TEST_CASE("verify checks a time window without a ledger", "[verify]") {
  stack_ready();
  auto since = psql("SELECT now()::text");
  std::this_thread::sleep_for(10ms);
  auto rows = clean_set();
  auto bad = make_order(1, "Pikachu", 10, "success");
  psql("UPDATE poke_orders SET state = 'rejected' WHERE id = " + std::to_string(bad.order_id));
  auto until = psql("SELECT (clock_timestamp() + interval '1 millisecond')::text");
  auto v = verify("--since '" + since + "' --until '" + until + "'");
  INFO(v.table << v.json);
  // Other writers may share the database, so only lower bounds are certain.
  REQUIRE(v.count("acknowledged") >= std::int64_t(rows.size()) + 1);
  REQUIRE(v.count("flipped") >= 1);
  REQUIRE(v.status == 1);
}

TEST_CASE("verify exits 2 on usage and connection errors", "[verify]") {
  stack_ready();
  auto v = verify("--ledger /nonexistent/ledger.csv");
  REQUIRE(v.status == 2);
  REQUIRE_THAT(v.table, Catch::Contains("/nonexistent/ledger.csv"));
  auto ledger = write_ledger({});
  v = verify("--ledger " + ledger + " --pg-port 1");
  REQUIRE(v.status == 2);
  REQUIRE_THAT(v.table, Catch::Contains("cannot connect"));
  v = verify("--since 'not a time'");
  REQUIRE(v.status == 2);
  // An empty ledger is a valid (vacuous) check.
  v = verify("--ledger " + ledger);
  REQUIRE(v.status == 0);
  REQUIRE(v.count("acknowledged") == 0);
  std::remove(ledger.c_str());
}
