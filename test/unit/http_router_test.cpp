#include <catch2/catch.hpp>

#include <stdexcept>

#include "core/http/client.hpp"
#include "core/http/message.hpp"
#include "core/http/router.hpp"

using namespace pokeflow::core::http;

namespace {
handler noop() {
  return [](request&) -> boost::asio::awaitable<response> { co_return response{}; };
}
}  // namespace

TEST_CASE("percent_decode decodes escapes and rejects malformed ones", "[http]") {
  CHECK(percent_decode("a%20b") == "a b");
  CHECK(percent_decode("%41%62%2f") == "Ab/");
  CHECK(percent_decode("caf%C3%A9") == "caf\xC3\xA9");
  CHECK(percent_decode("a+b") == "a+b");
  CHECK(percent_decode("a+b", true) == "a b");
  CHECK(percent_decode("") == "");
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%4"));
  CHECK_FALSE(percent_decode("abc%zz"));
  CHECK_FALSE(percent_decode("%G0"));
  CHECK(percent_decode("%00")->size() == 1);
}

TEST_CASE("percent_encode round-trips through percent_decode", "[http]") {
  CHECK(percent_encode("a b/c?d=e&f") == "a%20b%2Fc%3Fd%3De%26f");
  CHECK(percent_encode("Az09-._~") == "Az09-._~");
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  CHECK(percent_decode(percent_encode(all)) == all);
}

TEST_CASE("parse_query splits, decodes and keeps the last repeated key", "[http]") {
  auto q = parse_query("state=pending&skip=10&limit=20");
  REQUIRE(q);
  CHECK(q->size() == 3);
  CHECK(q->at("state") == "pending");
  CHECK(q->at("skip") == "10");

  q = parse_query("name=Mr+Mime&x%20y=%C3%A9&&flag&a=1&a=2&empty=");
  REQUIRE(q);
  CHECK(q->at("name") == "Mr Mime");
  CHECK(q->at("x y") == "\xC3\xA9");
  CHECK(q->at("flag") == "");
  CHECK(q->at("a") == "2");
  CHECK(q->at("empty") == "");
  CHECK(q->count("") == 0);

  CHECK(parse_query("")->empty());
  CHECK_FALSE(parse_query("a=%2"));
  CHECK_FALSE(parse_query("%zz=1"));
}

TEST_CASE("match_pattern handles literals, params and trailing slashes", "[http]") {
  std::map<std::string, std::string> p;
  CHECK(match_pattern("/orders", "/orders", p));
  CHECK(match_pattern("/orders", "/orders/", p));
  CHECK_FALSE(match_pattern("/orders", "/orders/7", p));
  CHECK_FALSE(match_pattern("/orders", "/order", p));
  CHECK(match_pattern("/", "/", p));
  CHECK_FALSE(match_pattern("/", "/x", p));

  REQUIRE(match_pattern("/orders/{id}", "/orders/42", p));
  CHECK(p.at("id") == "42");
  REQUIRE(match_pattern("/orders/{id}", "/orders/42/", p));
  CHECK(p.at("id") == "42");
  REQUIRE(match_pattern("/a/{x}/b/{y}", "/a/one/b/t%20wo", p));
  CHECK(p.at("x") == "one");
  CHECK(p.at("y") == "t wo");
  // An encoded slash stays inside its segment.
  REQUIRE(match_pattern("/f/{name}", "/f/a%2Fb", p));
  CHECK(p.at("name") == "a/b");

  CHECK_FALSE(match_pattern("/orders/{id}", "/orders", p));
  CHECK_FALSE(match_pattern("/orders/{id}", "/orders//", p));
  CHECK_FALSE(match_pattern("/orders/{id}", "/orders/1/2", p));
  CHECK_FALSE(match_pattern("/a//b", "/a/b", p));
  CHECK_FALSE(match_pattern("/orders/{id}", "/orders/%zz", p));
}

TEST_CASE("router picks routes, reports 404 and 405 with Allow", "[http]") {
  router r;
  r.add("GET", "/orders", noop());
  r.add("POST", "/orders", noop());
  r.add("DELETE", "/orders", noop());
  r.add("GET", "/orders/{id}", noop());
  r.add("PUT", "/orders/{id}", noop());
  r.add("GET", "/orders/stats", noop());

  auto m = r.match("GET", "/orders/");
  CHECK(m.outcome == router::match_result::kind::found);
  CHECK(m.pattern == "/orders");

  m = r.match("PUT", "/orders/17");
  REQUIRE(m.outcome == router::match_result::kind::found);
  CHECK(m.pattern == "/orders/{id}");
  CHECK(m.params.at("id") == "17");
  CHECK(m.h != nullptr);

  m = r.match("GET", "/orders/stats");
  CHECK(m.pattern == "/orders/stats");

  // The param route accepts PUT, the literal one does not: the method decides.
  m = r.match("PUT", "/orders/stats");
  CHECK(m.outcome == router::match_result::kind::found);
  CHECK(m.pattern == "/orders/{id}");

  m = r.match("PATCH", "/orders");
  CHECK(m.outcome == router::match_result::kind::method_not_allowed);
  CHECK(m.allow == "DELETE, GET, POST");

  m = r.match("GET", "/nope");
  CHECK(m.outcome == router::match_result::kind::not_found);
  m = r.match("GET", "/orders/1/items");
  CHECK(m.outcome == router::match_result::kind::not_found);
}

TEST_CASE("router rejects bad patterns and duplicates", "[http]") {
  router r;
  CHECK_THROWS_AS(r.add("GET", "orders", noop()), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{}", noop()), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{x", noop()), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/x}", noop()), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{x}{y}", noop()), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a//b", noop()), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a", handler{}), std::invalid_argument);
  r.add("GET", "/a/{x}", noop());
  CHECK_THROWS_AS(r.add("GET", "/a/{x}/", noop()), std::invalid_argument);
  CHECK_NOTHROW(r.add("POST", "/a/{x}", noop()));
}

TEST_CASE("header lookup ignores case and the error body is JSON", "[http]") {
  request req;
  req.headers.emplace("Content-Type", "application/json");
  req.headers.emplace("authorization", "Bearer t");
  CHECK(req.header("content-type") == "application/json");
  CHECK(req.header("AUTHORIZATION") == "Bearer t");
  CHECK_FALSE(req.header("x-missing"));

  auto r = response::error(404, "no \"such\" order\n");
  CHECK(r.status == 404);
  CHECK(r.content_type == "application/json");
  CHECK(r.body == R"({"detail":"no \"such\" order\n"})");
}

TEST_CASE("parse_base_url accepts http URLs and rejects the rest clearly", "[http]") {
  auto u = parse_base_url("http://127.0.0.1:8000");
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 8000);
  CHECK(u.authority == "127.0.0.1:8000");
  CHECK(u.prefix.empty());

  u = parse_base_url("HTTP://api.local/base/");
  CHECK(u.host == "api.local");
  CHECK(u.port == 80);
  CHECK(u.prefix == "/base");

  u = parse_base_url("http://[::1]:9000/");
  CHECK(u.host == "::1");
  CHECK(u.port == 9000);

  auto message = [](const char* url) {
    try {
      parse_base_url(url);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message("https://x:443"), Catch::Contains("https is not supported"));
  CHECK_THAT(message("ftp://x"), Catch::Contains("must start with http://"));
  CHECK_THAT(message("http://"), Catch::Contains("no host"));
  CHECK_THAT(message("http://x:abc"), Catch::Contains("port is not a number"));
  CHECK_THAT(message("http://x:70000"), Catch::Contains("port out of range"));
  CHECK_THAT(message("http://x:0"), Catch::Contains("port out of range"));
  CHECK_THAT(message("http://u:p@x"), Catch::Contains("user info"));
  CHECK_THAT(message("http://x/?a=1"), Catch::Contains("query"));
}
