// The api's web face over real HTTP (no browser: test/browser does that): the form's path to
// PostgreSQL, Kafka and a terminal state, its errors as HTML, the embedded files' caching and
// compression, the OpenAPI document and the dashboard's feed and marks.
#include <catch2/catch.hpp>

#include <thread>

#include "harness.hpp"

using namespace pokeflow::test;
using namespace std::chrono_literals;

namespace {
const std::map<std::string, std::string> form = {{"Content-Type", "application/x-www-form-urlencoded"}};
}

TEST_CASE("web: an order from the form is stored with its outbox event, published and finalized", "[api][web]") {
  pipeline p;
  INFO(p.procs.at("api")->log());
  REQUIRE(p.wait_ready("api", 60s));
  REQUIRE(p.wait_ready("fraud", 60s));
  REQUIRE(p.wait_ready("updater", 60s));
  auto r = http(p.api_port, "POST", "/create_order",
                "user_id=4&pokemon=%3Cb%3EMew%3C%2Fb%3E&country=Chile&price=12.5&submit=Create", form);
  REQUIRE(r.status == 201);
  CHECK(r.headers["content-type"] == "text/html; charset=utf-8");
  CHECK(r.headers["content-security-policy"].find("default-src 'self'") != std::string::npos);
  auto loc = r.headers["location"];
  REQUIRE(loc.rfind("/orders/", 0) == 0);
  auto id = loc.substr(8);
  CHECK(r.body.find("&lt;b&gt;Mew&lt;/b&gt;") != std::string::npos);
  CHECK(r.body.find("<b>Mew") == std::string::npos);
  // The same row POST /orders would write, published through the outbox to the fraud role.
  CHECK(psql("SELECT pokemon || '|' || country || '|' || price || '|' || user_id FROM poke_orders WHERE id = " + id) ==
        "<b>Mew</b>|Chile|12.5|4");
  CHECK(eventually([&] { return p.state_of(std::stoll(id)) == "success"; }, 60s));
  CHECK(psql_int("SELECT count(*) FROM poke_outbox WHERE order_id = " + id) == 0);  // relayed
  // The page of successful orders that holds it (the database has other tests' orders too).
  auto skip = psql_int("SELECT count(*) FROM poke_orders WHERE state = 'success' AND id < " + id);
  auto page = http(p.api_port, "GET", "/list_orders?state=success&limit=5&skip=" + std::to_string(skip));
  CHECK(page.status == 200);
  CHECK(page.body.find("data-order-id=\"" + id + "\"") != std::string::npos);
}

TEST_CASE("web: form and query errors come back as HTML and write nothing", "[api][web]") {
  pipeline_options o;
  o.fraud = o.updater = o.reverser = false;
  pipeline p(o);
  REQUIRE(p.wait_ready("api", 60s));
  auto before = psql_int("SELECT count(*) FROM poke_orders");
  auto bad = http(p.api_port, "POST", "/create_order", "user_id=-1&pokemon=Mew&country=&price=abc", form);
  CHECK(bad.status == 422);
  CHECK(bad.headers["content-type"] == "text/html; charset=utf-8");
  CHECK(bad.body.find("user_id: ensure this value is greater than or equal to 0") != std::string::npos);
  CHECK(bad.body.find("country: ensure this value is not empty") != std::string::npos);
  CHECK(bad.body.find("price: value is not a valid float") != std::string::npos);
  CHECK(bad.body.find("value=\"Mew\"") != std::string::npos);  // the form keeps what was typed
  auto json = http(p.api_port, "POST", "/create_order", R"({"user_id":1})");
  CHECK(json.status == 415);
  CHECK(json.headers["content-type"] == "text/html; charset=utf-8");
  auto list = http(p.api_port, "GET", "/list_orders?limit=0&state=shipped");
  CHECK(list.status == 422);
  CHECK(list.body.find("limit: ensure this value is greater than or equal to 1") != std::string::npos);
  CHECK(list.body.find("state: value is not a valid enumeration member") != std::string::npos);
  CHECK(psql_int("SELECT count(*) FROM poke_orders") == before);
}

TEST_CASE("web: embedded files with ETag, 304 and gzip, and the document, and the dashboard's feed", "[api][web]") {
  pipeline_options o;
  o.fraud = o.updater = o.reverser = false;
  pipeline p(o);
  REQUIRE(p.wait_ready("api", 60s));
  auto plain = http(p.api_port, "GET", "/static/swagger-ui/swagger-ui-bundle.js");
  REQUIRE(plain.status == 200);
  CHECK(plain.headers["content-type"] == "text/javascript; charset=utf-8");
  CHECK(plain.body.size() > 500000);
  CHECK(plain.headers.count("content-encoding") == 0);
  auto gz = http(p.api_port, "GET", "/static/swagger-ui/swagger-ui-bundle.js", "", {{"Accept-Encoding", "gzip, br"}});
  CHECK(gz.headers["content-encoding"] == "gzip");
  CHECK(gz.body.size() < plain.body.size() / 2);
  CHECK(gz.body.substr(0, 2) == "\x1f\x8b");
  auto etag = plain.headers["etag"];
  REQUIRE(etag.size() > 2);
  CHECK(http(p.api_port, "GET", "/static/swagger-ui/swagger-ui-bundle.js", "", {{"If-None-Match", etag}}).status == 304);
  auto png = http(p.api_port, "GET", "/static/images/pokeball.png");
  CHECK(png.headers["content-type"] == "image/png");
  CHECK(png.body.substr(1, 3) == "PNG");
  CHECK(http(p.api_port, "GET", "/static/nope.js").status == 404);

  auto doc = http(p.api_port, "GET", "/openapi.json");
  CHECK(doc.status == 200);
  CHECK(doc.body.find("\"openapi\": \"3.1.0\"") != std::string::npos);
  auto docs = http(p.api_port, "GET", "/docs");
  CHECK(docs.body.find("/static/swagger-ui/swagger-ui-bundle.js") != std::string::npos);
  CHECK(docs.body.find("http://") == std::string::npos);  // nothing from another host
  CHECK(docs.body.find("https://") == std::string::npos);

  // Marks need the token; the feed counts orders as they are made.
  auto unauth = http(p.api_port, "POST", "/dashboard/marks", "name=x&phase=start", form);
  CHECK(unauth.status == 401);
  auto auth = form;
  auth["Authorization"] = "Bearer " + p.token;
  CHECK(http(p.api_port, "POST", "/dashboard/marks", "name=x&phase=end", auth).status == 409);
  CHECK(http(p.api_port, "POST", "/dashboard/marks", "name=x&phase=start", auth).status == 200);
  CHECK(http(p.api_port, "POST", "/dashboard/marks", "name=x&phase=later", auth).status == 422);
  CHECK(http(p.api_port, "GET", "/dashboard/data?seconds=5").status == 422);
  REQUIRE(http(p.api_port, "GET", "/dashboard/data").status == 200);  // starts sampling
  std::this_thread::sleep_for(1500ms);
  for (int i = 0; i < 7; ++i) p.create_order(1, "Pikachu", 1);
  std::string last;
  bool counted = eventually(
      [&] {
        last = http(p.api_port, "GET", "/dashboard/data?seconds=60").body;
        // The created series adds up to 7 (only these were made since sampling began).
        auto s = last.find("\"created\":[");
        if (s == std::string::npos) return false;
        auto e = last.find(']', s);
        long sum = 0;
        std::string arr = last.substr(s + 11, e - s - 11);
        std::size_t pos = 0;
        while (pos < arr.size()) {
          auto comma = arr.find(',', pos);
          auto item = arr.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
          if (item != "null" && !item.empty()) sum += std::stol(item);
          if (comma == std::string::npos) break;
          pos = comma + 1;
        }
        return sum == 7;
      },
      15s);
  INFO(last);
  CHECK(counted);
  CHECK(last.find("\"marks\":[{\"name\":\"x\"") != std::string::npos);
}
