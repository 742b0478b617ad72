// The order pipeline end to end: real pokeflow processes, real PostgreSQL, real 3-broker Kafka.
#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

using namespace pokeflow::test;
using namespace std::chrono_literals;

namespace {
std::string expected_state(std::int64_t user, const std::string& pokemon, double price) {
  char first = static_cast<char>(std::tolower(static_cast<unsigned char>(pokemon[0])));
  if (price > 200 || user == 5 || first == 'd' || first == 'f' || first == 'a') return "rejected";
  return "success";
}

struct placed {
  std::int64_t id;
  std::string expected;
};

std::vector<placed> place_orders(pipeline& p, int n) {
  static const char* names[] = {"Pikachu", "Ditto", "Bulbasaur", "Feebas", "Abra", "Mew", "Snorlax", "Eevee"};
  std::vector<placed> out;
  for (int i = 0; i < n; ++i) {
    std::int64_t user = 1 + i % 6;
    std::string name = names[i % 8];
    double price = (i * 37) % 300 + 0.5;
    out.push_back({p.create_order(user, name, price), expected_state(user, name, price)});
  }
  return out;
}

bool all_terminal_as_expected(const std::vector<placed>& orders, std::string& report) {
  std::string ids;
  for (auto& o : orders) ids += (ids.empty() ? "" : ",") + std::to_string(o.id);
  auto rows = psql("SELECT id || ':' || state FROM poke_orders WHERE id IN (" + ids + ") ORDER BY id");
  std::map<std::int64_t, std::string> states;
  std::istringstream in(rows);
  std::string line;
  while (std::getline(in, line)) {
    auto c = line.find(':');
    states[std::stoll(line.substr(0, c))] = line.substr(c + 1);
  }
  report.clear();
  bool ok = true;
  for (auto& o : orders) {
    if (states[o.id] != o.expected) {
      ok = false;
      report += std::to_string(o.id) + " is '" + states[o.id] + "', expected " + o.expected + "; ";
    }
  }
  return ok;
}

void require_ready(pipeline& p, const std::string& role) {
  INFO(p.procs.at(role)->log());
  REQUIRE(p.wait_ready(role, 60s));
}
}  // namespace

TEST_CASE("orders over HTTP reach the terminal state the fraud rules predict", "[pipeline]") {
  pipeline p;
  for (auto r : {"api", "fraud", "updater", "reverser"}) require_ready(p, r);
  auto orders = place_orders(p, 40);
  std::string report;
  bool ok = eventually([&] { return all_terminal_as_expected(orders, report); }, 60s);
  INFO(report);
  INFO(p.procs.at("fraud")->log());
  REQUIRE(ok);
  // Exactly one transition each, pending -> decision.
  std::string ids;
  for (auto& o : orders) ids += (ids.empty() ? "" : ",") + std::to_string(o.id);
  CHECK(psql_int("SELECT count(*) FROM poke_order_transitions WHERE order_id IN (" + ids + ")") == 40);
  CHECK(psql_int("SELECT count(*) FROM poke_order_transitions WHERE order_id IN (" + ids +
                 ") AND from_state <> 'pending'") == 0);
  // The API reads them back with the seed's field names.
  auto got = http(p.api_port, "GET", "/orders/" + std::to_string(orders[0].id));
  CHECK(got.status == 200);
  CHECK(json_field(got.body, "state") == orders[0].expected);
  CHECK(json_field(got.body, "user_id").has_value());
  CHECK(json_field(got.body, "timestamp").has_value());
  // Roles stop cleanly on SIGTERM.
  for (auto& [name, proc] : p.procs) {
    proc->signal(SIGTERM);
    auto st = proc->wait(20s);
    INFO(name << ": " << proc->log());
    CHECK(st == std::optional<int>(0));
  }
}

TEST_CASE("a truncated JSON on partition 1 goes to the DLQ and the partition keeps flowing", "[pipeline]") {
  pipeline p;
  for (auto r : {"api", "fraud", "updater"}) require_ready(p, r);
  // The seed's corrupt message: cut in the middle.
  auto r = sh("printf '%s' '{\"id\": 1, \"user_id\": 2, \"pokem' | kcat -P -b " + bootstrap() + " -t " + p.orders_topic +
              " -p 1 -k poison 2>&1");
  REQUIRE(r.status == 0);
  auto orders = place_orders(p, 12);
  std::string report;
  bool ok = eventually([&] { return all_terminal_as_expected(orders, report); }, 60s);
  INFO(report);
  REQUIRE(ok);
  // The poison message sits in the DLQ with headers naming where it came from and why.
  auto dlq = sh("kcat -C -b " + bootstrap() + " -t " + p.dlq_topic + " -o beginning -e -q -f '%h|%s\\n' 2>&1");
  INFO(dlq.out);
  CHECK(dlq.out.find("pokeflow-source-topic=" + p.orders_topic) != std::string::npos);
  CHECK(dlq.out.find("pokeflow-source-partition=1") != std::string::npos);
  CHECK(dlq.out.find("pokeflow-error=invalid JSON") != std::string::npos);
  CHECK(dlq.out.find("\"pokem") != std::string::npos);
  // Counted, and the consumer caught up on every partition (lag 0).
  bool caught_up = eventually(
      [&] {
        auto m = p.metrics("fraud");
        auto dl = metric(m, "pokeflow_messages_dlq_total{role=\"fraud\",topic=\"" + p.orders_topic + "\"}");
        if (!dl || *dl != 1) return false;
        for (int part = 0; part < 3; ++part) {
          auto lag = metric(m, "pokeflow_consumer_lag{group=\"" + p.fraud_group + "\",topic=\"" + p.orders_topic +
                                   "\",partition=\"" + std::to_string(part) + "\"}");
          if (!lag || *lag != 0) return false;
        }
        return true;
      },
      30s);
  INFO(p.metrics("fraud"));
  CHECK(caught_up);
}

TEST_CASE("orders created while every broker is down are published when they return", "[pipeline][faults]") {
  pipeline p;
  for (auto r : {"api", "fraud", "updater"}) require_ready(p, r);
  for (int b = 1; b <= 3; ++b) stack("broker kill " + std::to_string(b));
  std::vector<placed> orders;
  try {
    orders = place_orders(p, 10);  // the API keeps accepting: only PostgreSQL is on its path
    bool backlog = eventually(
        [&] {
          auto v = metric(p.metrics("api"), "pokeflow_outbox_backlog");
          return v && *v >= 10;
        },
        10s);
    CHECK(backlog);
  } catch (...) {
    stack("up");
    throw;
  }
  // All three together: each node is also a controller, and a lone node cannot form a quorum.
  stack("up");
  std::string report;
  bool ok = eventually([&] { return all_terminal_as_expected(orders, report); }, 120s);
  INFO(report);
  INFO(p.procs.at("api")->log());
  REQUIRE(ok);
  CHECK(eventually([&] { return metric(p.metrics("api"), "pokeflow_outbox_backlog") == 0.0; }, 10s));
}

TEST_CASE("an api killed right after committing loses no publish", "[pipeline][faults]") {
  pipeline_options o;
  o.api = false;
  pipeline p(o);
  // This api cannot reach Kafka at all, so its committed orders can only sit in the outbox.
  auto doomed_args = p.base_args("api");
  for (auto& a : doomed_args)
    if (a.rfind("--kafka-brokers=", 0) == 0) a = "--kafka-brokers=127.0.0.1:1";
  doomed_args.push_back("--admin-port=0");
  auto doomed = std::make_unique<process>(doomed_args);
  INFO(doomed->log());
  REQUIRE(eventually([&] { return http(p.api_port, "GET", "/orders?limit=1").status == 200; }, 30s));
  auto orders = place_orders(p, 8);
  doomed->signal(SIGKILL);
  REQUIRE(doomed->wait(5s) == std::optional<int>(128 + SIGKILL));
  std::string ids;
  for (auto& x : orders) ids += (ids.empty() ? "" : ",") + std::to_string(x.id);
  CHECK(psql_int("SELECT count(*) FROM poke_outbox WHERE order_id IN (" + ids + ")") == 8);
  // A replacement replica publishes what the dead one left.
  p.start("api");
  require_ready(p, "api");
  std::string report;
  bool ok = eventually([&] { return all_terminal_as_expected(orders, report); }, 60s);
  INFO(report);
  REQUIRE(ok);
  CHECK(psql_int("SELECT count(*) FROM poke_outbox WHERE order_id IN (" + ids + ")") == 0);
}

TEST_CASE("a late success for a reversed order stays reversed", "[pipeline]") {
  pipeline_options o;
  o.fraud = false;  // nobody decides, so the reverser gets there first
  o.reverser_timeout = "1s";
  o.reverser_interval = "300ms";
  pipeline p(o);
  for (auto r : {"api", "updater", "reverser"}) require_ready(p, r);
  auto id = p.create_order(1, "Pikachu", 10);
  REQUIRE(eventually([&] { return p.state_of(id) == "reversed"; }, 20s));
  // The decision arrives late through Kafka, as it would from a slow fraud role.
  std::string late = "{\"id\":" + std::to_string(id) +
                     ",\"user_id\":1,\"pokemon\":\"Pikachu\",\"country\":\"Chile\",\"price\":10,\"state\":\"success\"}";
  REQUIRE(sh("printf '%s' '" + late + "' | kcat -P -b " + bootstrap() + " -t " + p.states_topic + " -k " +
             std::to_string(id) + " 2>&1")
              .status == 0);
  REQUIRE(eventually([&] { return psql_int("SELECT conflicts FROM poke_orders WHERE id = " + std::to_string(id)) == 1; },
                     30s));
  CHECK(p.state_of(id) == "reversed");
  // And directly over HTTP: 409 naming the current state.
  auto r = http(p.api_port, "PUT", "/orders/" + std::to_string(id), "{\"state\":\"success\"}",
                {{"Authorization", "Bearer " + p.token}});
  CHECK(r.status == 409);
  CHECK(json_field(r.body, "state") == "reversed");
  CHECK(psql_int("SELECT count(*) FROM poke_order_transitions WHERE order_id = " + std::to_string(id)) == 1);
}

TEST_CASE("two reversers split the work without doing any twice", "[pipeline]") {
  pipeline_options o;
  o.api = o.fraud = o.updater = o.reverser = false;
  pipeline p(o);
  // An api-free batch of stale pending orders, tagged so this test only counts its own.
  auto tag = unique_name("rev");
  psql("INSERT INTO poke_orders (user_id, pokemon, country, price, \"timestamp\") "
       "SELECT 1, 'Pikachu', '" + tag + "', 1, now() - interval '2 hours' FROM generate_series(1, 3000)");
  p.start("reverser", {"--reverser-timeout=1h", "--reverser-interval=200ms", "--reverser-batch=100"});
  auto second = p.base_args("reverser");
  second.push_back("--reverser-timeout=1h");
  second.push_back("--reverser-interval=200ms");
  second.push_back("--reverser-batch=100");
  auto second_admin = free_port();
  second.push_back("--admin-port=" + std::to_string(second_admin));
  process other(second);
  auto count = [&](const std::string& cond) {
    return psql_int("SELECT count(*) FROM poke_orders WHERE country = '" + tag + "' AND " + cond);
  };
  REQUIRE(eventually([&] { return count("state = 'reversed'") == 3000; }, 60s));
  CHECK(count("state = 'pending'") == 0);
  CHECK(psql_int("SELECT count(*) FROM poke_order_transitions t JOIN poke_orders o ON o.id = t.order_id "
                 "WHERE o.country = '" + tag + "'") == 3000);
  auto a = metric(p.metrics("reverser"), "pokeflow_reversals_total").value_or(-1);
  auto b = metric(http(second_admin, "GET", "/metrics").body, "pokeflow_reversals_total").value_or(-1);
  INFO("reverser A " << a << ", reverser B " << b);
  CHECK(a + b >= 3000);  // also counts any stale leftovers of other runs; the transitions prove no double work
  psql("DELETE FROM poke_orders WHERE country = '" + tag + "'");
}
