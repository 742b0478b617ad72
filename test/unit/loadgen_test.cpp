#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <variant>

#include <catch2/catch.hpp>

#include "core/json/codec.hpp"
#include "core/ledger.hpp"
#include "roles/loadgen/orders.hpp"
#include "roles/loadgen/pacing.hpp"
#include "roles/loadgen/summary.hpp"

using namespace pokeflow::core::ledger;  // the ledger format shared by loadgen and verify

namespace lg = pokeflow::roles::loadgen;
using namespace std::chrono;

TEST_CASE("open model: the n-th intended send time is start + n / rate, without drift") {
  auto start = steady_clock::time_point(seconds(1000));
  REQUIRE(lg::intended_time(start, 0, 100.0) == start);
  REQUIRE(lg::intended_time(start, 1, 100.0) == start + milliseconds(10));
  REQUIRE(lg::intended_time(start, 250, 100.0) == start + milliseconds(2500));
  // 1/3 s has no exact binary representation; summing it would drift, computing from n cannot.
  for (std::uint64_t n : {1ull, 2ull, 3ull, 1000ull, 999999ull, 3000000ull}) {
    auto t = lg::intended_time(start, n, 3.0);
    auto expected_ns = static_cast<std::int64_t>(std::llround(double(n) * 1e9 / 3.0));
    REQUIRE(std::llabs(duration_cast<nanoseconds>(t - start).count() - expected_ns) <= 1);
  }
  // Monotonic at a high rate.
  auto prev = start;
  for (std::uint64_t n = 1; n < 100000; ++n) {
    auto t = lg::intended_time(start, n, 20000.0);
    REQUIRE(t > prev);
    prev = t;
  }
}

TEST_CASE("open model: planned orders = duration x rate") {
  REQUIRE(lg::planned_orders(seconds(10), 100) == 1000);
  REQUIRE(lg::planned_orders(milliseconds(1500), 3) == 5);  // 4.5 -> sends at 0,.33,..,1.33 s
  REQUIRE(lg::planned_orders(seconds(1), 0.5) == 1);
  REQUIRE(lg::planned_orders(seconds(10), 0) == 0);
  REQUIRE(lg::planned_orders(seconds(0), 100) == 0);
}

TEST_CASE("ledger rows round-trip through the CSV format") {
  ledger_row r{42, 5, "Farfetch'd", "Korea, Republic of \"South\"", 123.45, 1700000000000000, 1700000000000100,
                   1700000000002000};
  auto line = format_ledger_row(r);
  REQUIRE(line == "42,5,Farfetch'd,\"Korea, Republic of \"\"South\"\"\",123.45,1700000000000000,1700000000000100,"
                  "1700000000002000");
  auto back = parse_ledger_line(line);
  REQUIRE(back);
  REQUIRE(*back == r);
  REQUIRE_FALSE(parse_ledger_line("1,2,3"));
  REQUIRE_FALSE(parse_ledger_line("x,5,a,b,1.0,1,2,3"));
  REQUIRE_FALSE(parse_ledger_line("1,5,a,b,1.0,1,2,3,4"));
  REQUIRE_FALSE(parse_ledger_line("1,5,\"a,b,1.0,1,2,3"));
}

TEST_CASE("ledger writer writes a header and whole lines, and reader tolerates a truncated tail") {
  auto path = std::string("/tmp/pokeflow-ledger-test-") + std::to_string(::getpid()) + ".csv";
  {
    ledger_writer w(path);
    for (int i = 1; i <= 1000; ++i)
      w.append({i, i % 5 + 1, "Pikachu", "Chile", i / 100.0, i * 10, i * 10 + 1, i * 10 + 2});
    w.flush();
    REQUIRE(w.rows() == 1000);
  }
  auto c = read_ledger(path);
  REQUIRE(c.rows.size() == 1000);
  REQUIRE_FALSE(c.truncated_tail);
  REQUIRE(c.rows[999].order_id == 1000);
  REQUIRE(c.rows[999].price == 10.0);
  {
    std::ifstream in(path);
    std::string first;
    std::getline(in, first);
    REQUIRE(first == ledger_header);
  }
  // A writer killed mid-line leaves a partial last line: dropped, reported, not an error.
  {
    std::ofstream out(path, std::ios::app);
    out << "1001,2,Pika";
  }
  c = read_ledger(path);
  REQUIRE(c.rows.size() == 1000);
  REQUIRE(c.truncated_tail);
  // Even when the partial line happens to parse (digits cut short), it is not trusted.
  auto text = std::string(ledger_header) + "\n1,1,A,B,1.00,1,2,3\n2,1,A,B,1.00,1,2,3";
  c = parse_ledger(text);
  REQUIRE(c.rows.size() == 1);
  REQUIRE(c.truncated_tail);
  std::remove(path.c_str());

  REQUIRE_THROWS_WITH(parse_ledger("id,foo\n"), Catch::Contains("header"));
  REQUIRE_THROWS_WITH(parse_ledger(""), Catch::Contains("empty"));
  REQUIRE_THROWS_WITH(parse_ledger(std::string(ledger_header) + "\nbad\n1,1,A,B,1.00,1,2,3\n"),
                      Catch::Contains("line 2"));
  REQUIRE_THROWS_WITH(read_ledger("/nonexistent/ledger.csv"), Catch::Contains("/nonexistent/ledger.csv"));
  REQUIRE(parse_ledger(std::string(ledger_header) + "\r\n1,1,A,B,1.00,1,2,3\r\n").rows.size() == 1);
}

TEST_CASE("generated orders look real and are valid POST /orders bodies") {
  auto pokemon = lg::load_list(std::string(POKEFLOW_SOURCE_DIR) + "/config/pokemon.txt");
  auto countries = lg::load_list(std::string(POKEFLOW_SOURCE_DIR) + "/config/countries.txt");
  REQUIRE(pokemon.size() >= 1000);
  REQUIRE(std::find(pokemon.begin(), pokemon.end(), "Pikachu") != pokemon.end());
  for (const auto& c : countries) REQUIRE(c[0] != '#');
  lg::order_factory f(pokemon, countries, 1);
  for (int i = 0; i < 2000; ++i) {
    auto o = f.make(5);
    REQUIRE(o.user_id == 5);
    REQUIRE(o.price >= 0);
    REQUIRE(o.price <= 300);
    REQUIRE(std::fabs(o.price * 100 - std::round(o.price * 100)) < 1e-6);
    auto parsed = pokeflow::core::json::parse_new_order(lg::order_body(o));
    auto* n = std::get_if<pokeflow::core::json::new_order>(&parsed);
    REQUIRE(n);
    REQUIRE(n->pokemon == o.pokemon);
    REQUIRE(n->country == o.country);
    REQUIRE(n->price == o.price);
  }
  REQUIRE_THROWS_WITH(lg::load_list("/nonexistent/list.txt"), Catch::Contains("/nonexistent/list.txt"));
}

TEST_CASE("summary JSON carries the counts and percentiles") {
  lg::summary s;
  s.model = "open";
  s.target_rate = 100;
  s.elapsed_s = 2;
  s.send_window_s = 2;
  s.planned = s.sent = 200;
  s.acknowledged = 198;
  s.errors["timeout"] = 1;
  s.errors["http_503"] = 1;
  for (int i = 1; i <= 198; ++i) s.latency.record(std::uint64_t(i) * 100);
  auto j = lg::to_json(s);
  REQUIRE_THAT(j, Catch::Contains("\"achieved_rate\":99.000"));
  REQUIRE_THAT(j, Catch::Contains("\"errors\":{\"http_503\":1,\"timeout\":1}"));
  REQUIRE_THAT(j, Catch::Contains("\"max\":19.800"));
  REQUIRE_THAT(j, Catch::Contains("\"acknowledged\":198"));
  REQUIRE_THAT(lg::to_table(s), Catch::Contains("latency p99.9"));
}
