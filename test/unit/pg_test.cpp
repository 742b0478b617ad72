#include <catch2/catch.hpp>

#include <limits>
#include <optional>
#include <set>
#include <string>

#include "core/pg/migrate.hpp"
#include "core/pg/result.hpp"
#include "pokeflow/config.hpp"

using namespace pokeflow;
namespace pg = pokeflow::core::pg;

TEST_CASE("pg conninfo quotes every value and escapes quotes and backslashes", "[pg]") {
  pg_config c;
  c.host = "db.example";
  c.port = 5433;
  c.database = "poke orders";
  c.user = "o'brien";
  c.password = R"(pa ss\'word=x)";
  c.connect_timeout = std::chrono::milliseconds(2500);
  auto s = c.conninfo();
  CHECK(s.find("host='db.example'") != std::string::npos);
  CHECK(s.find("port='5433'") != std::string::npos);
  CHECK(s.find("dbname='poke orders'") != std::string::npos);
  CHECK(s.find(R"(user='o\'brien')") != std::string::npos);
  CHECK(s.find(R"(password='pa ss\\\'word=x')") != std::string::npos);
  CHECK(s.find("connect_timeout='3'") != std::string::npos);  // rounded up, never 0
  CHECK(s.find("application_name='pokeflow'") != std::string::npos);
}

TEST_CASE("pg conninfo defaults point at the local stack and never disable the timeout", "[pg]") {
  pg_config c;
  auto s = c.conninfo();
  CHECK(s.rfind("host='127.0.0.1' port='55432' dbname='poke_orders' user='poke_user' password='poke_password'", 0) ==
        0);
  c.connect_timeout = std::chrono::milliseconds(10);
  CHECK(c.conninfo().find("connect_timeout='1'") != std::string::npos);
  c.password.clear();
  CHECK(c.conninfo().find("password=") == std::string::npos);
}

TEST_CASE("pg conninfo bounds every statement and a connection that stops acknowledging", "[pg]") {
  pg_config c;
  c.query_timeout = std::chrono::milliseconds(4000);
  auto s = c.conninfo();
  CHECK(s.find("options='-c statement_timeout=4000 -c idle_in_transaction_session_timeout=30000'") !=
        std::string::npos);
  CHECK(s.find("tcp_user_timeout='10000'") != std::string::npos);
  c.query_timeout = std::chrono::milliseconds(20000);
  CHECK(c.conninfo().find("idle_in_transaction_session_timeout=80000") != std::string::npos);
  c.query_timeout = std::chrono::milliseconds(0);  // off: no server-side bound either
  CHECK(c.conninfo().find("statement_timeout") == std::string::npos);
}

TEST_CASE("pg SQLSTATE classification separates retryable from permanent failures", "[pg]") {
  using k = pg::error_kind;
  CHECK(pg::classify("") == k::connection);  // libpq-side failure, no server answer
  CHECK(pg::classify("08006") == k::connection);
  CHECK(pg::classify("08001") == k::connection);
  CHECK(pg::classify("57P01") == k::shutdown);  // pg_terminate_backend / admin shutdown
  CHECK(pg::classify("57P02") == k::shutdown);
  CHECK(pg::classify("57P03") == k::shutdown);
  CHECK(pg::classify("57014") == k::timeout);
  CHECK(pg::classify("40001") == k::conflict);
  CHECK(pg::classify("40P01") == k::conflict);
  CHECK(pg::classify("53300") == k::resources);
  CHECK(pg::classify("23505") == k::constraint);
  CHECK(pg::classify("23502") == k::constraint);
  CHECK(pg::classify("42P01") == k::invalid);
  CHECK(pg::classify("22P02") == k::invalid);
  CHECK(pg::classify("40003") == k::other);  // commit outcome unknown: not blindly retried
  CHECK(pg::classify("XX000") == k::other);

  for (auto kind : {k::connection, k::shutdown, k::timeout, k::conflict, k::resources}) {
    INFO(pg::to_string(kind));
    CHECK(pg::is_retryable(kind));
  }
  for (auto kind : {k::none, k::constraint, k::invalid, k::other}) {
    INFO(pg::to_string(kind));
    CHECK_FALSE(pg::is_retryable(kind));
  }
}

TEST_CASE("pg client-side failures carry their kind and a one-line message", "[pg]") {
  auto r = pg::result::failure(pg::error_kind::connection,
                               "connection to server failed: Connection refused\n\tIs the server running?\n");
  CHECK_FALSE(r.ok());
  CHECK(r.retryable());
  CHECK(r.message() == "connection to server failed: Connection refused Is the server running?");
  CHECK(r.rows() == 0);
  CHECK(r.affected() == 0);
  CHECK_THROWS_AS(r.get(0, 0), std::out_of_range);
  CHECK_THROWS_AS(r.get(0, "id"), std::out_of_range);
  // A failure can never be built to look like a success.
  CHECK_FALSE(pg::result::failure(pg::error_kind::none, "x").ok());
  CHECK(pg::result{}.ok());
}

TEST_CASE("pg params render as PostgreSQL text", "[pg]") {
  CHECK(pg::param(42).text() == "42");
  CHECK(pg::param(std::numeric_limits<std::int64_t>::min()).text() == "-9223372036854775808");
  CHECK(pg::param(0.1).text() == "0.1");
  CHECK(pg::param(true).text() == "true");
  CHECK(pg::param("it's").text() == "it's");
  CHECK_FALSE(pg::param(std::nullopt).text().has_value());
}

TEST_CASE("pg migrations are ordered, unique and start at 1", "[pg]") {
  auto ms = pg::migrations();
  REQUIRE_FALSE(ms.empty());
  CHECK(ms.front().version == 1);
  std::set<int> seen;
  int prev = 0;
  for (const auto& m : ms) {
    CHECK(m.version > prev);
    prev = m.version;
    CHECK(seen.insert(m.version).second);
    CHECK_FALSE(m.sql.empty());
  }
  CHECK(ms.front().sql.find("CREATE TABLE poke_orders") != std::string_view::npos);
}
