// The keep-alive client against the real server, and the admin listener (incl. promtool).
#include "core/text.hpp"
#include "http_test_util.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/detached.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "core/http/admin.hpp"
#include "core/http/client.hpp"
#include "core/http/server.hpp"
#include "core/metrics.hpp"

using namespace http_test;
namespace h = pokeflow::core::http;
namespace metrics = pokeflow::core::metrics;

namespace {

struct echo_server {
  explicit echo_server(h::server_limits limits = {}) : srv(io, registry, "echo", limits) {
    srv.route("POST", "/echo", [](h::request& req) -> net::awaitable<h::response> {
      auto r = h::response::json(201, req.body);
      r.headers["X-Seen-Content-Type"] = std::string(req.header("content-type").value_or(""));
      r.headers["X-Seen-Auth"] = std::string(req.header("authorization").value_or(""));
      co_return r;
    });
    srv.route("PUT", "/items/{id}", [](h::request& req) -> net::awaitable<h::response> {
      co_return h::response::json(200, R"({"id":")" + pokeflow::core::text::json_escape(req.path_params.at("id")) + R"("})");
    });
    srv.route("GET", "/items", [](h::request& req) -> net::awaitable<h::response> {
      co_return h::response::json(200, R"({"state":")" + pokeflow::core::text::json_escape(req.query_param("state").value_or("")) + R"("})");
    });
    srv.route("GET", "/sleep", [](h::request&) -> net::awaitable<h::response> {
      co_await sleep_for(1000ms);
      co_return h::response::json(200, "{}");
    });
    srv.listen("127.0.0.1", 0);
    srv.run();
  }
  ~echo_server() {
    srv.stop();
    run_until(io, [&] { return srv.stopped(); }, 3s);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(srv.port()); }
  net::io_context io{1};
  metrics::registry registry;
  h::server srv;
};

std::uint16_t unused_port(net::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();  // closed on return: nothing listens there now
}

}  // namespace

TEST_CASE("client: round trip over one kept-alive connection", "[http]") {
  echo_server s;
  h::client c(s.io, s.url());
  run(s.io, [&]() -> net::awaitable<void> {
    // A named map: GCC 12 cannot compile a braced initializer list inside a co_await.
    h::header_map auth;
    auth["Authorization"] = "Bearer tok";
    auto r = co_await c.request("POST", "/echo", R"({"a":1})", auth);
    REQUIRE(r.ok());
    CHECK(r.status == 201);
    CHECK(r.body == R"({"a":1})");
    CHECK(r.headers["x-seen-content-type"] == "application/json");
    CHECK(r.headers["X-Seen-Auth"] == "Bearer tok");

    r = co_await c.request("GET", "/items?state=" + h::percent_encode("pending now"));
    CHECK(r.status == 200);
    CHECK(r.body == R"({"state":"pending now"})");

    r = co_await c.request("PUT", "items/7", R"({"state":"success"})");
    CHECK(r.status == 200);
    CHECK(r.body == R"({"id":"7"})");

    r = co_await c.request("GET", "/missing");
    CHECK(r.ok());
    CHECK(r.status == 404);
    CHECK(s.srv.connections() == 1);
  });
}

TEST_CASE("client: concurrent requests share a bounded pool", "[http]") {
  echo_server s;
  h::client_options opts;
  opts.pool_size = 2;
  h::client c(s.io, s.url(), opts);
  run(s.io, [&]() -> net::awaitable<void> {
    int done = 0, ok = 0;
    std::size_t max_conns = 0;
    for (int i = 0; i < 10; ++i) {
      net::co_spawn(
          s.io,
          [&, i]() -> net::awaitable<void> {
            auto r = co_await c.request("PUT", "/items/" + std::to_string(i), "{}");
            if (r.ok() && r.status == 200 && r.body == R"({"id":")" + std::to_string(i) + R"("})") ++ok;
            max_conns = std::max(max_conns, s.srv.connections());
            ++done;
          },
          net::detached);
    }
    while (done < 10) co_await sleep_for(5ms);
    CHECK(ok == 10);
    CHECK(max_conns <= 2);
  });
}

TEST_CASE("client: a keep-alive connection the server closed is replaced transparently", "[http]") {
  h::server_limits limits;
  limits.idle_timeout = 200ms;
  echo_server s(limits);
  h::client c(s.io, s.url());
  run(s.io, [&]() -> net::awaitable<void> {
    auto r = co_await c.request("PUT", "/items/1", "{}");
    CHECK(r.status == 200);
    co_await sleep_for(500ms);  // the server dropped the idle connection by now
    CHECK(s.srv.connections() == 0);
    r = co_await c.request("PUT", "/items/2", "{}");
    CHECK(r.ok());
    CHECK(r.status == 200);
    co_await sleep_for(500ms);
    r = co_await c.request("POST", "/echo", "{}");
    CHECK(r.ok());
    CHECK(r.status == 201);
  });
}

TEST_CASE("client: errors come back as error codes", "[http]") {
  net::io_context io{1};
  SECTION("connection refused") {
    h::client c(io, "http://127.0.0.1:" + std::to_string(unused_port(io)));
    run(io, [&]() -> net::awaitable<void> {
      auto r = co_await c.request("GET", "/", {}, {}, 2s);
      CHECK(r.ec == net::error::connection_refused);
      CHECK_FALSE(r.ok());
      CHECK(r.status == 0);
    });
  }
  SECTION("timeout") {
    echo_server s;
    h::client c(s.io, s.url());
    run(s.io, [&]() -> net::awaitable<void> {
      auto start = std::chrono::steady_clock::now();
      auto r = co_await c.request("GET", "/sleep", {}, {}, 200ms);
      CHECK(r.ec == net::error::timed_out);
      CHECK(std::chrono::steady_clock::now() - start < 800ms);
    });
  }
  SECTION("host names resolve") {
    echo_server s;
    h::client c(s.io, "http://localhost:" + std::to_string(s.srv.port()));
    run(s.io, [&]() -> net::awaitable<void> {
      auto r = co_await c.request("PUT", "/items/9", "{}");
      // localhost may resolve to ::1 first; the client must fall through to 127.0.0.1.
      CHECK(r.ok());
      CHECK(r.status == 200);
    });
  }
  SECTION("https is rejected up front") {
    CHECK_THROWS_WITH(h::client(io, "https://127.0.0.1:8443"), Catch::Contains("https is not supported"));
  }
}

TEST_CASE("admin: healthz, readyz with reasons, metrics accepted by promtool", "[http]") {
  net::io_context io{1};
  metrics::registry registry;
  h::admin_server admin(io, registry, 300ms);
  bool pg_up = false;
  admin.add_readiness("postgres", [&]() -> net::awaitable<std::optional<std::string>> {
    if (pg_up) co_return std::nullopt;
    co_return std::string("connection refused \"127.0.0.1:55432\"");
  });
  admin.add_readiness("kafka", [&]() -> net::awaitable<std::optional<std::string>> {
    if (pg_up) co_return std::nullopt;
    co_await sleep_for(5s);  // hangs past the check timeout
    co_return std::nullopt;
  });
  admin.listen("127.0.0.1", 0);
  REQUIRE(admin.port() != 0);
  admin.run();
  h::client c(io, "http://127.0.0.1:" + std::to_string(admin.port()));

  run(io, [&]() -> net::awaitable<void> {
    auto r = co_await c.request("GET", "/healthz");
    CHECK(r.status == 200);
    CHECK(r.body == R"({"status":"ok"})");

    auto start = std::chrono::steady_clock::now();
    r = co_await c.request("GET", "/readyz");
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    CHECK(r.status == 503);
    CHECK(r.body ==
          R"({"status":"not ready","reasons":{"postgres":"connection refused \"127.0.0.1:55432\"","kafka":"timed out"}})");

    pg_up = true;
    r = co_await c.request("GET", "/readyz/");
    CHECK(r.status == 200);
    CHECK(r.body == R"({"status":"ready"})");

    r = co_await c.request("POST", "/metrics", "{}");
    CHECK(r.status == 405);

    r = co_await c.request("GET", "/metrics");
    REQUIRE(r.status == 200);
    CHECK(r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8");
    CHECK_THAT(r.body, Catch::Contains(R"(http_requests_total{route="/readyz",method="GET",status="503"} 1)"));
    CHECK_THAT(r.body, Catch::Contains("http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1"));
    CHECK_THAT(r.body, Catch::Contains(R"(http_connections{listener="admin"} 1)"));

    char path[] = "/tmp/pokeflow-metrics-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path) << r.body;
    std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    int status = pclose(p);
    std::remove(path);
    INFO("promtool output: " << out);
    // 127: the shell found no promtool (Debian package prometheus provides it).
    REQUIRE(status != -1);
    CHECK(WEXITSTATUS(status) != 127);
    CHECK(WEXITSTATUS(status) == 0);
  });
  admin.stop();
  run_until(io, [&] { return admin.stopped(); }, 3s);
  CHECK(admin.stopped());
}
