// The api's web face without a server: the OpenAPI document against the validator's real
// behaviour (so they cannot drift), the HTML pages' escaping and paging, the form path, and
// the dashboard's per-second bookkeeping.
#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "core/json/codec.hpp"
#include "pokeflow/limits.hpp"
#include "roles/api/list_query.hpp"
#include "roles/api/web_assets.hpp"
#include "roles/api/web_html.hpp"
#include "roles/api/web_openapi.hpp"
#include "roles/api/web_timeline.hpp"

using namespace pokeflow;
namespace json = pokeflow::core::json;
namespace web = pokeflow::roles::api::web;
using pokeflow::roles::api::list_query;
using pokeflow::roles::api::parse_list_query;

namespace {

rapidjson::Document openapi() {
  rapidjson::Document d;
  auto text = web::openapi_document({12345});
  d.Parse(text.c_str(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

const rapidjson::Value& at(const rapidjson::Value& v, std::initializer_list<const char*> path) {
  const rapidjson::Value* cur = &v;
  for (const char* k : path) {
    INFO("key " << k);
    REQUIRE(cur->IsObject());
    auto it = cur->FindMember(k);
    REQUIRE(it != cur->MemberEnd());
    cur = &it->value;
  }
  return *cur;
}

std::string order_body(const std::string& user, const std::string& pokemon, const std::string& country,
                       const std::string& price) {
  return "{\"user_id\":" + user + ",\"pokemon\":\"" + pokemon + "\",\"country\":\"" + country +
         "\",\"price\":" + price + "}";
}

bool accepted(const std::string& body) { return std::holds_alternative<json::new_order>(json::parse_new_order(body)); }

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::vector<std::string> strings(const rapidjson::Value& arr) {
  std::vector<std::string> out;
  for (const auto& v : arr.GetArray()) out.emplace_back(v.GetString(), v.GetStringLength());
  return out;
}

const rapidjson::Value& param(const rapidjson::Value& op, const char* name) {
  for (const auto& p : at(op, {"parameters"}).GetArray())
    if (std::string(p["name"].GetString()) == name) return p;
  FAIL("no parameter " << name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("openapi: the document's order limits are the validator's, probed at each bound", "[web][openapi]") {
  auto d = openapi();
  CHECK(std::string(d["openapi"].GetString()) == "3.1.0");
  const auto& props = at(d, {"components", "schemas", "OrderIn", "properties"});

  // pokemon and country: maxLength characters pass, one more fails; multi-byte characters count once.
  for (const char* field : {"pokemon", "country"}) {
    auto max_len = static_cast<std::size_t>(at(props, {field, "maxLength"}).GetInt64());
    auto min_len = static_cast<std::size_t>(at(props, {field, "minLength"}).GetInt64());
    CHECK(min_len == 1);
    auto body = [&](const std::string& v) {
      return std::string(field) == "pokemon" ? order_body("1", v, "Chile", "1") : order_body("1", "Pikachu", v, "1");
    };
    CHECK(accepted(body(std::string(max_len, 'a'))));
    CHECK_FALSE(accepted(body(std::string(max_len + 1, 'a'))));
    std::string accented;
    for (std::size_t i = 0; i < max_len; ++i) accented += "\xc3\xa9";  // é, two bytes
    CHECK(accepted(body(accented)));
    CHECK_FALSE(accepted(body(accented + "\xc3\xa9")));
    CHECK_FALSE(accepted(body("")));
    CHECK_FALSE(accepted(body("   ")));  // the pattern's "not only blanks"
    CHECK_FALSE(accepted(body("a\\u0000b")));  // the pattern's "no NUL"
  }

  // price: [minimum, maximum]; the nearest doubles outside fail.
  double pmin = at(props, {"price", "minimum"}).GetDouble();
  double pmax = at(props, {"price", "maximum"}).GetDouble();
  CHECK(pmin == limits::price_min);
  CHECK(accepted(order_body("1", "Pikachu", "Chile", num(pmin))));
  CHECK(accepted(order_body("1", "Pikachu", "Chile", num(pmax))));
  CHECK_FALSE(accepted(order_body("1", "Pikachu", "Chile", num(std::nextafter(pmax, 2 * pmax)))));
  CHECK_FALSE(accepted(order_body("1", "Pikachu", "Chile", "-0.01")));

  // user_id: integer >= minimum, up to int64.
  auto umin = at(props, {"user_id", "minimum"}).GetInt64();
  CHECK(accepted(order_body(std::to_string(umin), "Pikachu", "Chile", "1")));
  CHECK_FALSE(accepted(order_body(std::to_string(umin - 1), "Pikachu", "Chile", "1")));
  CHECK(accepted(order_body(std::to_string(at(props, {"user_id", "maximum"}).GetInt64()), "Pikachu", "Chile", "1")));
  CHECK_FALSE(accepted(order_body("9223372036854775808", "Pikachu", "Chile", "1")));
  CHECK_FALSE(accepted(order_body("1.5", "Pikachu", "Chile", "1")));
  CHECK(accepted(order_body("7.0", "Pikachu", "Chile", "1")));  // an integer, as JSON Schema counts

  // Required fields and no others.
  CHECK(strings(at(d, {"components", "schemas", "OrderIn", "required"})) ==
        std::vector<std::string>{"user_id", "pokemon", "country", "price"});
  CHECK_FALSE(at(d, {"components", "schemas", "OrderIn", "additionalProperties"}).GetBool());
  CHECK_FALSE(accepted(R"({"user_id":1,"pokemon":"a","country":"b","price":1,"extra":1})"));
  CHECK_FALSE(accepted(R"({"pokemon":"a","country":"b","price":1})"));
}

TEST_CASE("openapi: state enums are exactly what the parsers accept", "[web][openapi]") {
  auto d = openapi();
  auto all = strings(at(d, {"components", "schemas", "OrderState", "enum"}));
  CHECK(all.size() == 5);
  for (const auto& s : all) CHECK(parse_order_state(s));
  auto terminal = strings(at(d, {"components", "schemas", "StateUpdate", "properties", "state", "enum"}));
  for (const auto& s : all) {
    bool documented = std::find(terminal.begin(), terminal.end(), s) != terminal.end();
    bool parsed = std::holds_alternative<order_state>(json::parse_state_update("{\"state\":\"" + s + "\"}"));
    INFO(s);
    CHECK(documented == parsed);
  }
  CHECK_FALSE(std::holds_alternative<order_state>(json::parse_state_update(R"({"state":"shipped"})")));
  // The whole order may come along with its documented types, nothing else.
  CHECK(std::holds_alternative<order_state>(json::parse_state_update(
      R"({"state":"success","id":1,"user_id":2,"pokemon":"a","country":"b","price":1.5,"timestamp":"t"})")));
  CHECK_FALSE(std::holds_alternative<order_state>(json::parse_state_update(R"({"state":"success","id":"1"})")));
  CHECK_FALSE(std::holds_alternative<order_state>(json::parse_state_update(R"({"state":"success","price":[]})")));
}

TEST_CASE("openapi: list parameters are parse_list_query's bounds", "[web][openapi]") {
  auto d = openapi();
  for (const char* path : {"/orders", "/list_orders"}) {
    INFO(path);
    const auto& op = at(d, {"paths", path, "get"});
    const auto& limit = at(param(op, "limit"), {"schema"});
    auto lmin = limit["minimum"].GetInt64(), lmax = limit["maximum"].GetInt64();
    auto ldef = limit["default"].GetInt64();
    auto q = [](std::map<std::string, std::string> m) { return parse_list_query(m); };
    CHECK(std::holds_alternative<list_query>(q({{"limit", std::to_string(lmin)}})));
    CHECK(std::holds_alternative<list_query>(q({{"limit", std::to_string(lmax)}})));
    CHECK_FALSE(std::holds_alternative<list_query>(q({{"limit", std::to_string(lmin - 1)}})));
    CHECK_FALSE(std::holds_alternative<list_query>(q({{"limit", std::to_string(lmax + 1)}})));
    CHECK(std::get<list_query>(q({})).limit == ldef);
    auto smin = at(param(op, "skip"), {"schema", "minimum"}).GetInt64();
    auto smax = at(param(op, "skip"), {"schema", "maximum"}).GetInt64();
    CHECK(smax == pokeflow::limits::list_skip_max);
    CHECK(std::holds_alternative<list_query>(q({{"skip", std::to_string(smin)}})));
    CHECK_FALSE(std::holds_alternative<list_query>(q({{"skip", std::to_string(smin - 1)}})));
    CHECK(std::holds_alternative<list_query>(q({{"skip", std::to_string(smax)}})));
    CHECK_FALSE(std::holds_alternative<list_query>(q({{"skip", std::to_string(smax + 1)}})));
    auto states = strings(at(param(op, "state"), {"schema", "enum"}));
    for (const auto& s : states) CHECK(std::holds_alternative<list_query>(q({{"state", s}})));
    CHECK_FALSE(std::holds_alternative<list_query>(q({{"state", "shipped"}})));
  }
}

TEST_CASE("web: integers in paths and queries as JSON Schema counts them", "[web]") {
  using pokeflow::roles::api::parse_integer;
  CHECK(parse_integer("20") == 20);
  CHECK(parse_integer("-3") == -3);
  CHECK(parse_integer("20.0") == 20);
  CHECK(parse_integer("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
  CHECK(parse_integer("20.5") == std::nullopt);
  CHECK(parse_integer("") == std::nullopt);
  CHECK(parse_integer("20x") == std::nullopt);
  CHECK(parse_integer("9223372036854775808") == std::nullopt);
  CHECK(parse_integer("1e400") == std::nullopt);
  CHECK(parse_integer("nan") == std::nullopt);
}

TEST_CASE("openapi: every route answers what it documents, with the server's body limit", "[web][openapi]") {
  auto d = openapi();
  const auto& paths = at(d, {"paths"});
  CHECK(paths.HasMember("/orders"));
  CHECK(paths.HasMember("/orders/{id}"));
  CHECK(paths.HasMember("/create_order"));
  CHECK(paths.HasMember("/list_orders"));
  CHECK(paths.HasMember("/docs"));
  CHECK(paths.HasMember("/openapi.json"));
  CHECK(paths.HasMember("/dashboard"));
  CHECK(paths.HasMember("/dashboard/data"));
  CHECK(paths.HasMember("/dashboard/marks"));
  for (const auto& a : web::embedded_assets()) CHECK(paths.HasMember(std::string(a.path).c_str()));
  // Bearer auth on exactly the writes that need the token.
  CHECK(at(paths, {"/orders/{id}", "put"}).HasMember("security"));
  CHECK(at(paths, {"/orders", "delete"}).HasMember("security"));
  CHECK(at(paths, {"/dashboard/marks", "post"}).HasMember("security"));
  CHECK_FALSE(at(paths, {"/orders", "post"}).HasMember("security"));
  for (const char* code : {"201", "413", "415", "422", "503"}) CHECK(at(paths, {"/orders", "post", "responses"}).HasMember(code));
  for (const char* code : {"200", "401", "404", "409", "413", "415", "422", "503"})
    CHECK(at(paths, {"/orders/{id}", "put", "responses"}).HasMember(code));
  std::string desc = at(paths, {"/orders", "post", "responses", "413", "description"}).GetString();
  CHECK(desc.find("12345") != std::string::npos);
  // FastAPI's 422 shape.
  CHECK(strings(at(d, {"components", "schemas", "ValidationError", "required"})) ==
        std::vector<std::string>{"loc", "msg", "type"});
}

TEST_CASE("web: the embedded files are all there", "[web]") {
  std::set<std::string> paths;
  for (const auto& a : web::embedded_assets()) {
    INFO(a.path);
    CHECK(a.data.size() > 0);
    CHECK(a.etag.size() > 2);
    paths.insert(std::string(a.path));
  }
  for (const char* p : {"/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css",
                        "/static/uplot/uPlot.iife.min.js", "/static/images/pokeball.png", "/static/style.css",
                        "/static/dashboard.js", "/static/docs.js", "/favicon.ico"})
    CHECK(paths.count(p) == 1);
  for (const auto& a : web::embedded_assets())
    if (a.path == "/static/images/pokeball.png")
      CHECK(std::string(reinterpret_cast<const char*>(a.data.data()), 8) == "\x89PNG\r\n\x1a\n");
}

TEST_CASE("web: values are HTML-escaped everywhere they are shown", "[web][html]") {
  CHECK(web::escape(R"(<script>alert("x") & 'y'</script>)") ==
        "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;");
  order o;
  o.id = 7;
  o.user_id = 1;
  o.pokemon = "<script>alert(1)</script>";
  o.country = "\"><img src=x onerror=alert(1)>";
  o.price = 12.5;
  o.timestamp = "2024-01-01T00:00:00Z";
  for (const auto& html : {web::order_created_page(o), web::list_page({}, {o}, false)}) {
    CHECK(html.find("<script>alert") == std::string::npos);
    CHECK(html.find("<img src=x") == std::string::npos);
    CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  }
  auto form = web::create_form_page({{"pokemon", "\"><b>bold</b>"}}, {"pokemon: <b>bad</b>"});
  CHECK(form.find("<b>") == std::string::npos);
  CHECK(form.find("value=\"&quot;&gt;&lt;b&gt;bold&lt;/b&gt;\"") != std::string::npos);
}

TEST_CASE("web: the form is judged exactly like the JSON body", "[web][html]") {
  auto ok = web::parse_order_form("user_id=3&pokemon=Mr.+Mime&country=C%C3%B4te+d%27Ivoire&price=12.50&submit=go");
  REQUIRE(std::holds_alternative<json::new_order>(ok));
  auto o = std::get<json::new_order>(ok);
  CHECK(o.user_id == 3);
  CHECK(o.pokemon == "Mr. Mime");
  CHECK(o.country == "Côte d'Ivoire");
  CHECK(o.price == 12.5);

  auto bad = web::parse_order_form("user_id=x&pokemon=&price=2000000");
  REQUIRE(std::holds_alternative<json::validation_errors>(bad));
  auto msgs = web::describe(std::get<json::validation_errors>(bad));
  auto has = [&](const std::string& s) {
    return std::find(msgs.begin(), msgs.end(), s) != msgs.end();
  };
  CHECK(has("user_id: value is not a valid integer"));
  CHECK(has("pokemon: ensure this value is not empty"));
  CHECK(has("country: field required"));
  CHECK(has("price: ensure this value is less than or equal to 1000000"));
  // Quotes and backslashes in a field cannot break out of the JSON the form becomes.
  auto tricky = web::parse_order_form("user_id=1&pokemon=%22%2C%22user_id%22%3A5%2C%22x%22%3A%22&country=a%5C&price=1");
  REQUIRE(std::holds_alternative<json::new_order>(tricky));
  CHECK(std::get<json::new_order>(tricky).user_id == 1);
  CHECK(std::get<json::new_order>(tricky).pokemon == "\",\"user_id\":5,\"x\":\"");
  CHECK(std::holds_alternative<json::validation_errors>(web::parse_order_form("user_id=1&pokemon=%zz")));
  CHECK(std::holds_alternative<json::validation_errors>(web::parse_order_form("user_id=1&pokemon=a&country=b&price=1e999")));
}

TEST_CASE("web: the list page pages with Previous and Next and keeps the filter", "[web][html]") {
  list_query q;
  q.state = order_state::success;
  q.skip = 20;
  q.limit = 10;
  order o;
  o.id = 21;
  auto html = web::list_page(q, {o}, true);
  CHECK(html.find("rel=\"prev\" href=\"/list_orders?state=success&amp;skip=10&amp;limit=10\"") != std::string::npos);
  CHECK(html.find("rel=\"next\" href=\"/list_orders?state=success&amp;skip=30&amp;limit=10\"") != std::string::npos);
  CHECK(html.find("<option value=\"success\" selected>") != std::string::npos);
  CHECK(html.find("21–21") != std::string::npos);
  q.skip = 0;
  auto first = web::list_page(q, {o}, false);
  CHECK(first.find("rel=\"prev\"") == std::string::npos);
  CHECK(first.find("rel=\"next\"") == std::string::npos);
  CHECK(web::format_price(50) == "50");
  CHECK(web::format_price(50.5) == "50.5");
  CHECK(web::format_price(0.129) == "0.13");
}

TEST_CASE("dashboard: seconds are recounted while complete and left alone before", "[web][dashboard]") {
  web::timeline t({"g1", "g2"}, 60);
  t.set_counts(100, 102, {{99, std::nullopt, 7}, {100, std::nullopt, 3}, {101, 0, 2}, {102, 3, 1}});
  REQUIRE(t.at(100));
  CHECK(t.at(99) == nullptr);  // partially seen: not shown
  CHECK(*t.at(100)->created == 3);
  CHECK(*t.at(101)->created == 0);
  CHECK(*t.at(101)->finalized[0] == 2);
  CHECK(*t.at(102)->finalized[3] == 1);
  // A later round that starts at 101 overwrites 101.. and keeps 100.
  t.set_counts(101, 103, {{101, std::nullopt, 5}});
  CHECK(*t.at(100)->created == 3);
  CHECK(*t.at(101)->created == 5);
  CHECK(*t.at(101)->finalized[0] == 0);
  web::gauges g;
  g.outbox_backlog = 4;
  g.lag = {1.0, std::nullopt};
  t.set_gauges(103, g);
  auto js = t.to_json(99, 103);
  rapidjson::Document d;
  d.Parse(js.c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["t"].Size() == 5);
  CHECK(d["created"][0].IsNull());
  CHECK(d["created"][2].GetInt() == 5);
  CHECK(d["outbox_backlog"][4].GetInt() == 4);
  CHECK(d["lag"]["g1"][4].GetInt() == 1);
  CHECK(d["lag"]["g2"][4].IsNull());
  CHECK(d["finalized"]["reversed"][3].GetInt() == 0);  // 102 was recounted: its row is gone
  // Bounded: 60 seconds kept.
  t.set_counts(1000, 1100, {});
  CHECK(t.at(1040) == nullptr);
  CHECK(t.at(1041));
  CHECK(t.at(100) == nullptr);
}

TEST_CASE("dashboard: fault windows open, close and stretch", "[web][dashboard]") {
  web::marks m(3);
  CHECK(m.add("exp", "start", 10) == std::nullopt);
  CHECK(m.add("exp", "start", 11) == std::nullopt);  // already open: no second window
  CHECK(m.all().size() == 1);
  CHECK(m.add("exp", "end", 20) == std::nullopt);
  CHECK(m.add("exp", "end", 25) == std::nullopt);  // a later restore step moves the end
  CHECK(*m.all().back().end == 25);
  CHECK(m.add("other", "end", 30).has_value());
  CHECK(m.add("", "start", 30).has_value());
  CHECK(m.add("x", "middle", 30).has_value());
  CHECK(m.to_json(26, 40) == "[]");
  CHECK(m.to_json(0, 40).find("\"start\":10") != std::string::npos);
  for (int i = 0; i < 5; ++i) m.add("w" + std::to_string(i), "start", 40 + i);
  CHECK(m.all().size() == 3);
}

TEST_CASE("dashboard: p99 of a second's POSTs", "[web][dashboard]") {
  CHECK(web::percentile({}, 99) == std::nullopt);
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  CHECK(*web::percentile(v, 99) == 99);
  CHECK(*web::percentile(v, 100) == 100);
  web::latency_window w(50);
  for (int i = 0; i < 1000; ++i) w.observe(i < 990 ? 1.0 : 500.0);
  auto p = w.take_p99();
  REQUIRE(p);
  CHECK((*p == 1.0 || *p == 500.0));
  CHECK(w.take_p99() == std::nullopt);  // starts afresh
  w.observe(3);
  CHECK(*w.take_p99() == 3);
}
