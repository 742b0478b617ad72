// The api role's HTTP contract (status codes and bodies) and the foundation's process
// behaviour (ready, SIGTERM, a stopped stack), against the real stack.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "harness.hpp"

using namespace pokeflow::test;
using namespace std::chrono_literals;

namespace {
pipeline_options api_only() {
  pipeline_options o;
  o.fraud = o.updater = o.reverser = false;
  return o;
}
}  // namespace

TEST_CASE("api: create, read, list and the seed's paths", "[api]") {
  pipeline p(api_only());
  INFO(p.procs.at("api")->log());
  REQUIRE(p.wait_ready("api", 60s));
  auto created = http(p.api_port, "POST", "/orders/",
                      R"({"user_id": 2, "pokemon": "Pikachu", "country": "Chile", "price": 12.5})");
  REQUIRE(created.status == 201);
  auto id = json_field(created.body, "id").value();
  CHECK(created.headers["location"] == "/orders/" + id);
  CHECK(json_field(created.body, "state") == "pending");
  CHECK(json_field(created.body, "price") == "12.5");
  CHECK(json_field(created.body, "pokemon") == "Pikachu");
  CHECK(psql_int("SELECT count(*) FROM poke_orders WHERE id = " + id) == 1);
  // Its outbox event was written with it: the relay publishes it to the orders topic (keyed
  // by the order id), then deletes the row.
  std::string events;
  CHECK(eventually(
      [&] {
        events = sh("kcat -C -b " + bootstrap() + " -t " + p.orders_topic + " -o beginning -e -q -f '%k|%s\\n' 2>&1").out;
        return events.find(id + "|{") != std::string::npos && events.find("Pikachu") != std::string::npos;
      },
      30s));
  INFO(events);
  CHECK(eventually([&] { return psql_int("SELECT count(*) FROM poke_outbox WHERE order_id = " + id) == 0; }, 30s));
  auto one = http(p.api_port, "GET", "/orders/" + id);
  CHECK(one.status == 200);
  CHECK(json_field(one.body, "country") == "Chile");
  auto list = http(p.api_port, "GET", "/orders?state=pending&limit=1000");
  CHECK(list.status == 200);
  CHECK(list.body.find("\"id\":" + id + ",") != std::string::npos);
  CHECK(http(p.api_port, "GET", "/orders/?limit=2").status == 200);
}

TEST_CASE("api: every error path answers with a JSON error and writes nothing", "[api]") {
  pipeline p(api_only());
  REQUIRE(p.wait_ready("api", 60s));
  auto before = psql_int("SELECT count(*) FROM poke_orders");
  auto post = [&](const std::string& body, std::map<std::string, std::string> h = {}) {
    return http(p.api_port, "POST", "/orders", body, h);
  };
  // 422 in FastAPI's shape
  for (auto body : {std::string("{"), std::string("[]"), std::string("{}"),
                    std::string(R"({"user_id": "x", "pokemon": "Mew", "country": "Peru", "price": 1})"),
                    std::string(R"({"user_id": 1, "pokemon": "", "country": "Peru", "price": 1})"),
                    std::string(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": -5})"),
                    std::string(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1e300})"),
                    std::string(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1, "x": 1})"),
                    std::string(R"({"user_id": 1, "pokemon": ")") + std::string(200, 'a') +
                        R"(", "country": "Peru", "price": 1})"}) {
    auto r = post(body);
    INFO(body << " -> " << r.status << " " << r.body);
    CHECK(r.status == 422);
    CHECK(r.body.find("\"detail\":[{\"loc\":[") != std::string::npos);
  }
  // 415 wrong content type
  auto wrong_type = post(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1})",
                         {{"Content-Type", "text/plain"}});
  CHECK(wrong_type.status == 415);
  CHECK(wrong_type.body.find("\"detail\"") != std::string::npos);
  // 413 oversized body
  auto big = post("{\"pad\":\"" + std::string(100 * 1024, 'x') + "\"}");
  CHECK(big.status == 413);
  // 404 / 405
  CHECK(http(p.api_port, "GET", "/nope").status == 404);
  CHECK(http(p.api_port, "GET", "/orders/999999999999").status == 404);
  auto m = http(p.api_port, "PATCH", "/orders");
  CHECK(m.status == 405);
  CHECK(m.headers.count("allow") == 1);
  CHECK(http(p.api_port, "GET", "/orders/abc").status == 422);
  CHECK(http(p.api_port, "GET", "/orders?limit=1001").status == 422);
  CHECK(http(p.api_port, "GET", "/orders?state=lost").status == 422);
  CHECK(http(p.api_port, "GET", "/orders?skip=-1").status == 422);
  // Nothing was written by any of that.
  CHECK(psql_int("SELECT count(*) FROM poke_orders") == before);
}

TEST_CASE("api: PUT is authenticated and guarded, and DELETE needs the token", "[api]") {
  pipeline p(api_only());
  REQUIRE(p.wait_ready("api", 60s));
  auto id = std::to_string(p.create_order(1, "Mew", 5));
  std::map<std::string, std::string> auth{{"Authorization", "Bearer " + p.token}};
  CHECK(http(p.api_port, "PUT", "/orders/" + id, R"({"state":"success"})").status == 401);
  CHECK(http(p.api_port, "PUT", "/orders/" + id, R"({"state":"success"})", {{"Authorization", "Bearer nope"}})
            .status == 401);
  CHECK(http(p.api_port, "DELETE", "/orders").status == 401);
  CHECK(http(p.api_port, "PUT", "/orders/" + id, R"({"state":"pending"})", auth).status == 422);
  CHECK(http(p.api_port, "PUT", "/orders/" + id, R"({"state":"shipped"})", auth).status == 422);
  CHECK(http(p.api_port, "PUT", "/orders/999999999999", R"({"state":"success"})", auth).status == 404);
  auto first = http(p.api_port, "PUT", "/orders/" + id, R"({"state":"success"})", auth);
  CHECK(first.status == 200);
  CHECK(json_field(first.body, "state") == "success");
  auto again = http(p.api_port, "PUT", "/orders/" + id, R"({"state":"success"})", auth);
  CHECK(again.status == 200);  // idempotent
  auto flip = http(p.api_port, "PUT", "/orders/" + id, R"({"state":"reversed"})", auth);
  CHECK(flip.status == 409);
  CHECK(json_field(flip.body, "state") == "success");
  CHECK(p.state_of(std::stoll(id)) == "success");
  CHECK(psql_int("SELECT redeliveries FROM poke_orders WHERE id = " + id) == 1);
  CHECK(psql_int("SELECT conflicts FROM poke_orders WHERE id = " + id) == 1);
}

TEST_CASE("api: slow clients time out and the connection limit holds", "[api]") {
  pipeline_options o = api_only();
  o.api = false;
  pipeline p(o);
  p.start("api", {"--api-request-timeout=1s", "--api-max-connections=4"});
  REQUIRE(p.wait_ready("api", 60s));
  // A client that sends half a request and stalls is dropped after the request timeout (1 s),
  // without an answer (nobody would read it), and not before.
  auto t0 = std::chrono::steady_clock::now();
  auto reply = raw_http(p.api_port, "POST /orders HTTP/1.1\r\nHost: x\r\n", 10s);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(reply.empty());
  CHECK(took >= 900ms);
  CHECK(took < 5s);
  // Hold the limit's worth of idle connections open, then one more is turned away.
  std::vector<std::thread> holders;
  for (int i = 0; i < 4; ++i)
    holders.emplace_back([&] { raw_http(p.api_port, "GET /orders?limit=1 HTTP/1.1\r\nHost: x\r\n", 3s); });
  std::this_thread::sleep_for(500ms);
  auto extra = http(p.api_port, "GET", "/orders?limit=1");
  CHECK(extra.status == 503);
  CHECK(extra.headers.count("retry-after") == 1);
  for (auto& t : holders) t.join();
  CHECK(http(p.api_port, "GET", "/orders?limit=1").status == 200);
}

TEST_CASE("api: one client's refused order never fails another's in the same group-commit batch", "[api]") {
  pipeline p(api_only());
  REQUIRE(p.wait_ready("api", 60s));
  // An order the validator passes but PostgreSQL refuses (a non-transient error), forced with a
  // CHECK constraint that only this test's poison name breaks.
  psql("ALTER TABLE poke_orders ADD CONSTRAINT it_poison CHECK (pokemon <> 'Poisonmon') NOT VALID");
  struct drop_constraint {
    ~drop_constraint() {
      try {
        psql("ALTER TABLE poke_orders DROP CONSTRAINT IF EXISTS it_poison");
      } catch (...) {
      }
    }
  } guard;
  const std::string country = unique_name("Batchland");
  constexpr int n = 120;
  auto poisoned = [](int i) { return i % 20 == 7; };  // 6 of 120
  std::vector<http_response> answers(n);
  std::vector<std::thread> clients;
  std::atomic<int> started{0};
  for (int i = 0; i < n; ++i) {
    clients.emplace_back([&, i] {
      ++started;
      while (started.load() < n) std::this_thread::yield();  // all at once: they share batches
      answers[static_cast<std::size_t>(i)] =
          http(p.api_port, "POST", "/orders",
               R"({"user_id": )" + std::to_string(i) + R"(, "pokemon": ")" + (poisoned(i) ? "Poisonmon" : "Mew") +
                   R"(", "country": ")" + country + R"(", "price": 3})");
    });
  }
  for (auto& t : clients) t.join();
  int created = 0, refused = 0;
  for (int i = 0; i < n; ++i) {
    const auto& a = answers[static_cast<std::size_t>(i)];
    INFO("request " << i << (poisoned(i) ? " (poisoned)" : "") << ": " << a.status << " " << a.body);
    if (poisoned(i)) {
      CHECK(a.status == 422);
      CHECK(a.body.find("it_poison") != std::string::npos);
      refused += a.status == 422;
    } else {
      CHECK(a.status == 201);
      created += a.status == 201;
    }
  }
  CHECK(created == 114);
  CHECK(refused == 6);
  CHECK(psql_int("SELECT count(*) FROM poke_orders WHERE country = '" + country + "'") == 114);
  // Every created order answered with its own row (its user id), never a neighbour's.
  for (int i = 0; i < n; ++i) {
    const auto& a = answers[static_cast<std::size_t>(i)];
    if (a.status == 201) CHECK(json_field(a.body, "user_id") == std::to_string(i));
  }
  // The poison did share batches, and those were split (the path under test ran).
  auto m = p.metrics("api");
  CHECK(metric(m, "pokeflow_create_batches_split_total").value_or(0) >= 1);
}

TEST_CASE("api: concurrent PUTs share a transaction, each answered on its own, and a refused one fails alone", "[api]") {
  pipeline p(api_only());
  REQUIRE(p.wait_ready("api", 60s));
  std::map<std::string, std::string> auth{{"Authorization", "Bearer " + p.token}};
  // A state change PostgreSQL refuses for this test's poison orders only (a non-transient
  // error, raised inside a shared batch).
  const std::string poison = unique_name("Putpoison");
  constexpr int n = 40;
  auto poisoned = [](int i) { return i % 10 == 3; };  // 4 of 40
  std::vector<std::int64_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(p.create_order(i, poisoned(i) ? poison : "Mew", 5));
  psql("ALTER TABLE poke_orders ADD CONSTRAINT it_put_poison CHECK (pokemon <> '" + poison +
       "' OR state = 'pending') NOT VALID");
  struct drop_constraint {
    ~drop_constraint() {
      try {
        psql("ALTER TABLE poke_orders DROP CONSTRAINT IF EXISTS it_put_poison");
      } catch (...) {
      }
    }
  } guard;
  // Every order gets the same decision twice at once (a redelivery racing the original), and
  // a few ids that name no order ride along.
  constexpr int strangers = 4;
  const int total = 2 * n + strangers;
  std::vector<http_response> answers(static_cast<std::size_t>(total));
  auto path_of = [&](int k) {
    return k < 2 * n ? "/orders/" + std::to_string(ids[static_cast<std::size_t>(k / 2)])
                     : "/orders/99999999999" + std::to_string(k);
  };
  std::vector<std::thread> clients;
  std::atomic<int> started{0};
  for (int k = 0; k < total; ++k) {
    clients.emplace_back([&, k] {
      ++started;
      while (started.load() < total) std::this_thread::yield();  // all at once: they share batches
      answers[static_cast<std::size_t>(k)] = http(p.api_port, "PUT", path_of(k), R"({"state":"success"})", auth);
    });
  }
  for (auto& t : clients) t.join();
  for (int k = 0; k < total; ++k) {
    const auto& a = answers[static_cast<std::size_t>(k)];
    INFO("request " << k << " " << path_of(k) << ": " << a.status << " " << a.body);
    if (k >= 2 * n) {
      CHECK(a.status == 404);
    } else if (poisoned(k / 2)) {
      CHECK(a.status == 500);
    } else {
      CHECK(a.status == 200);
      CHECK(json_field(a.body, "state") == "success");
      CHECK(json_field(a.body, "id") == std::to_string(ids[static_cast<std::size_t>(k / 2)]));
    }
  }
  // The same history as one statement per request: one recorded move per order that moved,
  // the racing copy counted as a redelivery; the poison orders untouched.
  for (int i = 0; i < n; ++i) {
    const auto id = std::to_string(ids[static_cast<std::size_t>(i)]);
    INFO("order " << i << " (" << id << ")" << (poisoned(i) ? " poisoned" : ""));
    const auto moves = psql_int("SELECT count(*) FROM poke_order_transitions WHERE order_id = " + id);
    if (poisoned(i)) {
      CHECK(p.state_of(ids[static_cast<std::size_t>(i)]) == "pending");
      CHECK(moves == 0);
    } else {
      CHECK(p.state_of(ids[static_cast<std::size_t>(i)]) == "success");
      CHECK(moves == 1);
      CHECK(psql_int("SELECT redeliveries FROM poke_orders WHERE id = " + id) == 1);
    }
  }
  // A late contrary decision is still a 409 naming the current state, counted as a conflict.
  const auto good = std::to_string(ids[0]);
  auto flip = http(p.api_port, "PUT", "/orders/" + good, R"({"state":"rejected"})", auth);
  CHECK(flip.status == 409);
  CHECK(json_field(flip.body, "state") == "success");
  CHECK(psql_int("SELECT conflicts FROM poke_orders WHERE id = " + good) == 1);
  // The requests did share statements (the histogram counts refused statements too), and the
  // refused batch was split (the path under test ran).
  auto m = p.metrics("api");
  const auto batches = metric(m, "pokeflow_transition_batch_orders_count").value_or(0);
  const auto singles = metric(m, "pokeflow_transition_batch_orders_bucket{le=\"1\"}").value_or(0);
  CHECK(batches > singles);
  CHECK(metric(m, "pokeflow_transition_batches_split_total").value_or(0) >= 1);
}

TEST_CASE("api: a database that does not answer gets 503 with Retry-After within the deadline", "[api]") {
  pipeline_options o = api_only();
  o.api = false;
  pipeline p(o);
  // The request deadline (1 s) is shorter than the query timeout (10 s): it must answer first.
  p.start("api", {"--api-deadline=1s", "--pg-query-timeout=10s"});
  REQUIRE(p.wait_ready("api", 60s));
  auto id = std::to_string(p.create_order(1, "Mew", 5));
  // Another session holds poke_orders exclusively: every read and write of it waits.
  std::thread locker([] {
    try {
      psql("BEGIN; LOCK TABLE poke_orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;");
    } catch (...) {
    }
  });
  std::this_thread::sleep_for(500ms);
  for (auto [method, target] : {std::pair<std::string, std::string>{"GET", "/orders/" + id},
                                {"GET", "/orders?limit=1"},
                                {"POST", "/orders"}}) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = http(p.api_port, method, target,
                  method == "POST" ? R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1})" : "");
    auto took = std::chrono::steady_clock::now() - t0;
    INFO(method << " " << target << " -> " << r.status << " " << r.body);
    CHECK(r.status == 503);
    CHECK(r.headers.count("retry-after") == 1);
    CHECK(r.body.find("deadline") != std::string::npos);
    CHECK(took >= 900ms);
    CHECK(took < 2500ms);
  }
  locker.join();
  // Once the lock is gone the api serves again (the abandoned statements' connections were
  // dropped, not reused with a stale answer pending).
  CHECK(eventually([&] { return http(p.api_port, "GET", "/orders/" + id).status == 200; }, 10s));
  CHECK(eventually(
      [&] {
        return http(p.api_port, "POST", "/orders", R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1})")
                   .status == 201;
      },
      10s));
  CHECK(metric(p.metrics("api"), "http_requests_deadline_exceeded_total{listener=\"api\"}").value_or(0) >= 3);
}

TEST_CASE("api: a statement past --pg-query-timeout is 503 with Retry-After, not a hang", "[api]") {
  pipeline_options o = api_only();
  o.api = false;
  pipeline p(o);
  p.start("api", {"--pg-query-timeout=500ms", "--api-deadline=5s"});
  REQUIRE(p.wait_ready("api", 60s));
  auto id = std::to_string(p.create_order(1, "Mew", 5));
  std::thread locker([] {
    try {
      psql("BEGIN; LOCK TABLE poke_orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;");
    } catch (...) {
    }
  });
  std::this_thread::sleep_for(500ms);
  auto t0 = std::chrono::steady_clock::now();
  auto r = http(p.api_port, "GET", "/orders/" + id);
  auto took = std::chrono::steady_clock::now() - t0;
  INFO(r.status << " " << r.body);
  CHECK(r.status == 503);
  CHECK(r.headers.count("retry-after") == 1);
  CHECK(r.body.find("database unavailable") != std::string::npos);
  CHECK(took < 2s);
  locker.join();
  CHECK(eventually([&] { return http(p.api_port, "GET", "/orders/" + id).status == 200; }, 10s));
}

TEST_CASE("api: GET /orders refuses a skip deeper than the documented bound", "[api]") {
  pipeline p(api_only());
  REQUIRE(p.wait_ready("api", 60s));
  CHECK(http(p.api_port, "GET", "/orders?skip=10000&limit=1").status == 200);
  auto deep = http(p.api_port, "GET", "/orders?skip=10001");
  CHECK(deep.status == 422);
  CHECK(deep.body.find("less than or equal to 10000") != std::string::npos);
  CHECK(http(p.api_port, "GET", "/orders?skip=9223372036854775807").status == 422);
}

TEST_CASE("a role on a stopped stack says what it cannot reach", "[foundation]") {
  auto admin = free_port();
  auto api = free_port();
  process proc({"--role=api", "--pg-port=1", "--kafka-brokers=127.0.0.1:2", "--admin-port=" + std::to_string(admin),
                "--api-port=" + std::to_string(api), "--pg-connect-timeout=1s"});
  REQUIRE(eventually([&] { return http(admin, "GET", "/healthz").status == 200; }, 20s));
  http_response ready;
  eventually(
      [&] {
        ready = http(admin, "GET", "/readyz");
        return ready.status == 503 && ready.body.find("postgres") != std::string::npos &&
               ready.body.find("kafka") != std::string::npos;
      },
      20s);
  INFO(ready.body);
  CHECK(ready.status == 503);
  CHECK(ready.body.find("\"postgres\"") != std::string::npos);
  CHECK(ready.body.find("\"kafka\"") != std::string::npos);
  // The API answers 503 rather than hanging, and the log names PostgreSQL's address.
  CHECK(http(api, "GET", "/orders").status == 503);
  proc.signal(SIGTERM);
  CHECK(proc.wait(20s) == std::optional<int>(0));
  INFO(proc.log());
  CHECK(proc.log().find("127.0.0.1:1") != std::string::npos);
}

TEST_CASE("every role starts, reports ready and exits 0 on SIGTERM", "[foundation]") {
  pipeline p;
  for (auto r : {"api", "fraud", "updater", "reverser"}) {
    INFO(r << ": " << p.procs.at(r)->log());
    REQUIRE(p.wait_ready(r, 60s));
    auto m = p.metrics(r);
    CHECK(m.find("process_resident_memory_bytes") != std::string::npos);
    // promtool judges the exposition format of the live page.
    auto file = "/tmp/pokeflow-it-metrics-" + std::string(r) + ".prom";
    std::ofstream(file) << m;
    auto check = sh("promtool check metrics < " + file + " 2>&1");
    INFO(check.out);
    CHECK(check.status == 0);
  }
  for (auto r : {"updater", "fraud", "reverser", "api"}) {
    auto& proc = *p.procs.at(r);
    proc.signal(SIGTERM);
    auto st = proc.wait(20s);
    INFO(r << ": " << proc.log());
    CHECK(st == std::optional<int>(0));
  }
}

TEST_CASE("migrate twice is harmless", "[foundation]") {
  for (int i = 0; i < 2; ++i) {
    auto r = sh(pokeflow_binary() + " migrate 2>&1");
    INFO(r.out);
    CHECK(r.status == 0);
  }
  CHECK(psql_int("SELECT max(version) FROM schema_migrations") >= 2);
}

TEST_CASE("a bad option is one line on stderr and exit 2", "[foundation]") {
  auto r = sh(pokeflow_binary() + " --role=api --pg-port=banana 2>&1 >/dev/null");
  CHECK(r.status == 2);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  CHECK(r.out.find("--pg-port") != std::string::npos);
  auto rules = sh("printf 'max_price = lots\\n' > /tmp/pokeflow-bad-rules.ini; " + pokeflow_binary() +
                  " --role=fraud --fraud-rules=/tmp/pokeflow-bad-rules.ini --admin-port=0 2>&1 >/dev/null");
  CHECK(rules.status == 2);
  CHECK(rules.out.find("--fraud-rules") != std::string::npos);
  auto version = sh(pokeflow_binary() + " --version");
  CHECK(version.status == 0);
  CHECK(version.out.find("pokeflow") == 0);
}
