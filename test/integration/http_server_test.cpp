// The HTTP server on real sockets: keep-alive, pipelining, routing errors, limits, timeouts,
// handler failures and graceful stop.
#include "core/text.hpp"
#include "http_test_util.hpp"

#include <memory>
#include <stdexcept>

#include "core/http/server.hpp"
#include "core/metrics.hpp"

using namespace http_test;
namespace h = pokeflow::core::http;
namespace metrics = pokeflow::core::metrics;

namespace {

struct fixture {
  explicit fixture(h::server_limits limits = {}) {
    srv = std::make_unique<h::server>(io, registry, "test", limits);
    srv->route("GET", "/hello/{name}", [](h::request& req) -> net::awaitable<h::response> {
      std::string body = R"({"name":")" + pokeflow::core::text::json_escape(req.path_params.at("name")) + R"(","q":")" +
                         pokeflow::core::text::json_escape(req.query_param("q").value_or("")) + R"(","x":")" +
                         pokeflow::core::text::json_escape(req.header("x-test").value_or("")) + R"("})";
      co_return h::response::json(200, body);
    });
    srv->route("POST", "/hello/{name}", [](h::request& req) -> net::awaitable<h::response> {
      auto r = h::response::json(201, req.body);
      r.headers["Location"] = "/hello/" + req.path_params.at("name");
      co_return r;
    });
    srv->route("GET", "/boom", [](h::request&) -> net::awaitable<h::response> {
      throw std::runtime_error("handler bug");
      co_return h::response{};
    });
    srv->route("GET", "/slow", [](h::request&) -> net::awaitable<h::response> {
      co_await sleep_for(300ms);
      co_return h::response::json(200, R"({"slow":true})");
    });
    srv->listen("127.0.0.1", 0);
    srv->run();
    port = srv->port();
  }
  ~fixture() {
    srv->stop();
    run_until(io, [&] { return srv->stopped(); }, 3s);
  }
  net::io_context io{1};
  metrics::registry registry;
  std::unique_ptr<h::server> srv;
  std::uint16_t port = 0;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

}  // namespace

TEST_CASE("server: keep-alive serves several requests on one connection, pipelined too", "[http]") {
  fixture f;
  REQUIRE(f.port != 0);
  run(f.io, [&]() -> net::awaitable<void> {
    raw_conn c(f.io);
    co_await c.connect(f.port);
    for (int i = 0; i < 3; ++i) {
      co_await c.send(get("/hello/ash%20k?q=a+b%21", "X-TEST: v" + std::to_string(i) + "\r\n"));
      auto r = co_await c.recv();
      CHECK(r.result_int() == 200);
      CHECK(r.keep_alive());
      CHECK(r[bhttp::field::content_type] == "application/json");
      CHECK(r.body() == R"({"name":"ash k","q":"a b!","x":"v)" + std::to_string(i) + R"("})");
    }
    CHECK(f.srv->connections() == 1);

    // Three requests in one write: answered in order on the same connection.
    co_await c.send(get("/hello/a") + "POST /hello/b HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{\"k\":1}" +
                    get("/hello/c/"));
    auto r1 = co_await c.recv();
    auto r2 = co_await c.recv();
    auto r3 = co_await c.recv();
    CHECK(r1.body() == R"({"name":"a","q":"","x":""})");
    CHECK(r2.result_int() == 201);
    CHECK(r2.body() == R"({"k":1})");
    CHECK(r2[bhttp::field::location] == "/hello/b");
    CHECK(r3.body() == R"({"name":"c","q":"","x":""})");
    CHECK(f.srv->connections() == 1);

    // Connection: close is honoured.
    co_await c.send(get("/hello/z", "Connection: close\r\n"));
    auto last = co_await c.recv();
    CHECK(last.result_int() == 200);
    CHECK_FALSE(last.keep_alive());
    {
      bool closed = closed_by_peer(co_await c.wait_closed(2s));
      CHECK(closed);
    }
  });
  auto text = f.registry.render();
  CHECK_THAT(text, Catch::Contains(R"(http_requests_total{route="/hello/{name}",method="GET",status="200"} 6)"));
  CHECK_THAT(text, Catch::Contains(R"(http_request_duration_seconds_count{route="/hello/{name}"} 7)"));
}

TEST_CASE("server: unknown path is 404, wrong method 405 with Allow, both JSON", "[http]") {
  fixture f;
  run(f.io, [&]() -> net::awaitable<void> {
    raw_conn c(f.io);
    co_await c.connect(f.port);
    co_await c.send(get("/nope"));
    auto r = co_await c.recv();
    CHECK(r.result_int() == 404);
    CHECK(r[bhttp::field::content_type] == "application/json");
    CHECK(r.body() == R"({"detail":"Not Found"})");
    CHECK(r.keep_alive());

    co_await c.send("DELETE /hello/x HTTP/1.1\r\nHost: t\r\n\r\n");
    r = co_await c.recv();
    CHECK(r.result_int() == 405);
    CHECK(r[bhttp::field::allow] == "GET, POST");
    CHECK(r.body() == R"({"detail":"Method Not Allowed"})");

    co_await c.send(get("/hello/x?q=%zz"));
    r = co_await c.recv();
    CHECK(r.result_int() == 400);
  });
  auto text = f.registry.render();
  CHECK_THAT(text, Catch::Contains(R"(http_requests_total{route="unmatched",method="GET",status="404"} 1)"));
  CHECK_THAT(text, Catch::Contains(R"(http_requests_total{route="/hello/{name}",method="DELETE",status="405"} 1)"));
}

TEST_CASE("server: oversized body is 413 and the connection closes", "[http]") {
  h::server_limits limits;
  limits.max_body_bytes = 1024;
  fixture f(limits);
  run(f.io, [&]() -> net::awaitable<void> {
    {
      raw_conn c(f.io);
      co_await c.connect(f.port);
      std::string body(2000, 'x');
      co_await c.send("POST /hello/a HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n" + body);
      auto r = co_await c.recv();
      CHECK(r.result_int() == 413);
      CHECK(r.body() == R"({"detail":"Request body exceeds 1024 bytes"})");
      CHECK_FALSE(r.keep_alive());
      {
      bool closed = closed_by_peer(co_await c.wait_closed(2s));
      CHECK(closed);
    }
    }
    {
      // Chunked: no length up front, the limit trips while reading.
      raw_conn c(f.io);
      co_await c.connect(f.port);
      std::string chunk(800, 'y');
      co_await c.send("POST /hello/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" + chunk +
                      "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
      auto r = co_await c.recv();
      CHECK(r.result_int() == 413);
    }
    {
      // At the limit is fine.
      raw_conn c(f.io);
      co_await c.connect(f.port);
      std::string body(1024, 'z');
      co_await c.send("POST /hello/a HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n" + body);
      auto r = co_await c.recv();
      CHECK(r.result_int() == 201);
      CHECK(r.body().size() == 1024);
    }
  });
  CHECK_THAT(f.registry.render(),
             Catch::Contains(R"(http_requests_total{route="/hello/{name}",method="POST",status="413"} 2)"));
}

TEST_CASE("server: oversized header is 431, malformed HTTP is 400, both close", "[http]") {
  fixture f;
  run(f.io, [&]() -> net::awaitable<void> {
    {
      raw_conn c(f.io);
      co_await c.connect(f.port);
      co_await c.send(get("/hello/a", "X-Big: " + std::string(10000, 'b') + "\r\n"));
      auto r = co_await c.recv();
      CHECK(r.result_int() == 431);
      CHECK(r[bhttp::field::content_type] == "application/json");
      {
      bool closed = closed_by_peer(co_await c.wait_closed(2s));
      CHECK(closed);
    }
    }
    {
      raw_conn c(f.io);
      co_await c.connect(f.port);
      co_await c.send("THIS IS NOT HTTP\r\n\r\n");
      auto r = co_await c.recv();
      CHECK(r.result_int() == 400);
      CHECK_THAT(r.body(), Catch::StartsWith(R"({"detail":"Malformed HTTP request)"));
      {
      bool closed = closed_by_peer(co_await c.wait_closed(2s));
      CHECK(closed);
    }
    }
    {
      raw_conn c(f.io);
      co_await c.connect(f.port);
      co_await c.send("POST /hello/a HTTP/1.1\r\nHost: t\r\nContent-Length: banana\r\n\r\n");
      auto r = co_await c.recv();
      CHECK(r.result_int() == 400);
    }
  });
}

TEST_CASE("server: slow and idle clients are disconnected", "[http]") {
  h::server_limits limits;
  limits.request_timeout = 400ms;
  limits.idle_timeout = 300ms;
  fixture f(limits);
  run(f.io, [&]() -> net::awaitable<void> {
    {
      // Slowloris: a byte every 100 ms never completes a header; the request deadline ends it.
      raw_conn c(f.io);
      co_await c.connect(f.port);
      auto start = std::chrono::steady_clock::now();
      std::string req = get("/hello/a");
      boost::system::error_code ec;
      for (char ch : req) {
        c.stream.expires_after(1s);
        auto [wec, n] = co_await net::async_write(c.stream, net::buffer(&ch, 1), net::as_tuple(net::use_awaitable));
        if (wec) {
          ec = wec;
          break;
        }
        co_await sleep_for(100ms);
        if (std::chrono::steady_clock::now() - start > 3s) break;
      }
      if (!ec) ec = co_await c.wait_closed(2s);
      auto took = std::chrono::steady_clock::now() - start;
      CHECK((closed_by_peer(ec) || ec == net::error::broken_pipe));
      CHECK(took < 2s);
      CHECK(c.buf.size() == 0);  // no response: nobody would read it
    }
    {
      // A connection that never sends anything.
      raw_conn c(f.io);
      co_await c.connect(f.port);
      auto start = std::chrono::steady_clock::now();
      {
      bool closed = closed_by_peer(co_await c.wait_closed(3s));
      CHECK(closed);
    }
      CHECK(std::chrono::steady_clock::now() - start < 1500ms);
    }
    {
      // Idle keep-alive after a served request.
      raw_conn c(f.io);
      co_await c.connect(f.port);
      co_await c.send(get("/hello/a"));
      {
      unsigned status = (co_await c.recv()).result_int();
      CHECK(status == 200);
    }
      auto start = std::chrono::steady_clock::now();
      {
      bool closed = closed_by_peer(co_await c.wait_closed(3s));
      CHECK(closed);
    }
      auto took = std::chrono::steady_clock::now() - start;
      CHECK(took >= 250ms);
      CHECK(took < 1500ms);
    }
  });
  CHECK(f.srv->connections() == 0);
}

TEST_CASE("server: over max_connections a client gets 503 and the limit holds", "[http]") {
  h::server_limits limits;
  limits.max_connections = 2;
  fixture f(limits);
  run(f.io, [&]() -> net::awaitable<void> {
    auto a = std::make_unique<raw_conn>(f.io);
    raw_conn b(f.io);
    for (raw_conn* c : {a.get(), &b}) {
      co_await c->connect(f.port);
      co_await c->send(get("/hello/x"));
      {
      unsigned status = (co_await c->recv()).result_int();
      CHECK(status == 200);
    }
    }
    CHECK(f.srv->connections() == 2);

    raw_conn extra(f.io);
    co_await extra.connect(f.port);
    co_await extra.send(get("/hello/x"));
    auto r = co_await extra.recv();
    CHECK(r.result_int() == 503);
    CHECK(r[bhttp::field::retry_after] == "1");
    CHECK(r.body() == R"({"detail":"Too many connections"})");
    {
      bool closed = closed_by_peer(co_await extra.wait_closed(2s));
      CHECK(closed);
    }
    CHECK(f.srv->connections() == 2);

    // Freeing a slot lets the next client in.
    a.reset();
    for (int i = 0; i < 100 && f.srv->connections() > 1; ++i) co_await sleep_for(10ms);
    CHECK(f.srv->connections() == 1);
    raw_conn later(f.io);
    co_await later.connect(f.port);
    co_await later.send(get("/hello/y"));
    {
      unsigned status = (co_await later.recv()).result_int();
      CHECK(status == 200);
    }
  });
  CHECK_THAT(f.registry.render(), Catch::Contains(R"(http_connections_rejected_total{listener="test"} 1)"));
}

TEST_CASE("server: a throwing handler yields 500 JSON and the server keeps serving", "[http]") {
  fixture f;
  run(f.io, [&]() -> net::awaitable<void> {
    raw_conn c(f.io);
    co_await c.connect(f.port);
    co_await c.send(get("/boom"));
    auto r = co_await c.recv();
    CHECK(r.result_int() == 500);
    CHECK(r.body() == R"({"detail":"Internal Server Error"})");
    co_await c.send(get("/hello/after"));
    r = co_await c.recv();
    CHECK(r.result_int() == 200);
  });
  CHECK_THAT(f.registry.render(), Catch::Contains(R"(http_requests_total{route="/boom",method="GET",status="500"} 1)"));
}

TEST_CASE("server: stop() finishes in-flight requests, closes idle ones, then reports stopped", "[http]") {
  fixture f;
  run(f.io, [&]() -> net::awaitable<void> {
    raw_conn idle(f.io), busy(f.io);
    co_await idle.connect(f.port);
    co_await idle.send(get("/hello/i"));
    {
      unsigned status = (co_await idle.recv()).result_int();
      CHECK(status == 200);
    }
    co_await busy.connect(f.port);
    co_await busy.send(get("/slow"));
    co_await sleep_for(50ms);  // the slow handler is running now
    f.srv->stop();
    CHECK_FALSE(f.srv->stopped());
    auto r = co_await busy.recv();
    CHECK(r.result_int() == 200);
    CHECK_FALSE(r.keep_alive());
    {
      bool closed = closed_by_peer(co_await idle.wait_closed(1s));
      CHECK(closed);
    }
    {
      bool closed = closed_by_peer(co_await busy.wait_closed(2s));
      CHECK(closed);
    }
    for (int i = 0; i < 100 && !f.srv->stopped(); ++i) co_await sleep_for(10ms);
    CHECK(f.srv->stopped());

    raw_conn late(f.io);
    late.stream.expires_after(1s);
    auto [ec] = co_await late.stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), f.port),
                                                   net::as_tuple(net::use_awaitable));
    CHECK(ec == net::error::connection_refused);
  });
}

TEST_CASE("server: listen reports a port in use clearly", "[http]") {
  fixture f;
  metrics::registry reg;
  h::server other(f.io, reg, "other");
  try {
    other.listen("127.0.0.1", f.port);
    FAIL("second bind on the same port succeeded");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("cannot bind 127.0.0.1:" + std::to_string(f.port)));
  }
  CHECK_THROWS_AS(other.run(), std::logic_error);
}
