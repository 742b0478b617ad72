// The api role's HTTP contract (status codes and bodies) and the foundation's process
// behaviour (ready, SIGTERM, a stopped stack), against the real stack.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
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
  // The order and its outbox event were written together.
  CHECK(psql_int("SELECT count(*) FROM poke_orders WHERE id = " + id) == 1);
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

TEST_CASE("api: PUT is authenticated and guarded; DELETE needs the token", "[api]") {
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
  // A client that sends half a request line and stalls is dropped after the request timeout.
  auto t0 = std::chrono::steady_clock::now();
  auto reply = raw_http(p.api_port, "POST /orders HTTP/1.1\r\nHost: x\r\n", 10s);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 5s);
  // Hold the limit's worth of idle connections open, then one more is turned away.
  std::vector<std::thread> holders;
  for (int i = 0; i < 4; ++i)
    holders.emplace_back([&] { raw_http(p.api_port, "GET /orders?limit=1 HTTP/1.1\r\nHost: x\r\n", 3s); });
  std::this_thread::sleep_for(500ms);
  auto extra = http(p.api_port, "GET", "/orders?limit=1");
  CHECK((extra.status == 503 || extra.status == 0));
  for (auto& t : holders) t.join();
  CHECK(http(p.api_port, "GET", "/orders?limit=1").status == 200);
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
