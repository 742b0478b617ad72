#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "core/json/codec.hpp"

using namespace pokeflow;
namespace json = pokeflow::core::json;

namespace {
json::validation_errors errors_of(std::string_view body) {
  auto r = json::parse_new_order(body);
  REQUIRE(std::holds_alternative<json::validation_errors>(r));
  return std::get<json::validation_errors>(r);
}
bool has(const json::validation_errors& e, const std::string& field, const std::string& type) {
  for (const auto& x : e)
    if (x.loc.size() >= 2 && x.loc[1] == field && x.type == type) return true;
  return false;
}
}  // namespace

TEST_CASE("a valid order parses", "[json]") {
  auto r = json::parse_new_order(R"({"user_id": 3, "pokemon": "Pikachu", "country": "Chile", "price": 99.5})");
  REQUIRE(std::holds_alternative<json::new_order>(r));
  auto o = std::get<json::new_order>(r);
  CHECK(o.user_id == 3);
  CHECK(o.pokemon == "Pikachu");
  CHECK(o.country == "Chile");
  CHECK(o.price == 99.5);
  auto integer_price = json::parse_new_order(R"({"user_id": 0, "pokemon": "Mew", "country": "Peru", "price": 200})");
  CHECK(std::holds_alternative<json::new_order>(integer_price));
}

TEST_CASE("hostile order bodies are rejected with FastAPI-shaped errors", "[json]") {
  CHECK(errors_of("")[0].type == "value_error.jsondecode");
  CHECK(errors_of("{\"user_id\": 1, \"pokemon\": \"Mew\"")[0].type == "value_error.jsondecode");
  CHECK(errors_of("[1,2,3]")[0].type == "type_error.dict");
  CHECK(errors_of("{} trailing")[0].type == "value_error.jsondecode");
  CHECK(errors_of(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": NaN})")[0].type ==
        "value_error.jsondecode");
  auto missing = errors_of("{}");
  CHECK(missing.size() == 4);
  CHECK(has(missing, "user_id", "value_error.missing"));
  CHECK(has(missing, "price", "value_error.missing"));
  auto types = errors_of(R"({"user_id": "5", "pokemon": 7, "country": null, "price": "cheap"})");
  CHECK(has(types, "user_id", "type_error.integer"));
  CHECK(has(types, "pokemon", "type_error.str"));
  CHECK(has(types, "country", "type_error.str"));
  CHECK(has(types, "price", "type_error.float"));
  CHECK(has(errors_of(R"({"user_id": 1.5, "pokemon": "Mew", "country": "Peru", "price": 1})"), "user_id",
            "type_error.integer"));
  CHECK(has(errors_of(R"({"user_id": true, "pokemon": "Mew", "country": "Peru", "price": 1})"), "user_id",
            "type_error.integer"));
  CHECK(has(errors_of(R"({"user_id": 18446744073709551615, "pokemon": "Mew", "country": "Peru", "price": 1})"),
            "user_id", "value_error.number.not_le"));
  CHECK(has(errors_of(R"({"user_id": -1, "pokemon": "Mew", "country": "Peru", "price": 1})"), "user_id",
            "value_error.number.not_ge"));
  CHECK(has(errors_of(R"({"user_id": 1, "pokemon": "", "country": "  ", "price": 1})"), "pokemon",
            "value_error.any_str.min_length"));
  CHECK(has(errors_of(R"({"user_id": 1, "pokemon": "Mew", "country": "  ", "price": 1})"), "country",
            "value_error.any_str.min_length"));
  std::string long_name(65, 'x');
  CHECK(has(errors_of(R"({"user_id": 1, "pokemon": ")" + long_name + R"(", "country": "Peru", "price": 1})"),
            "pokemon", "value_error.any_str.max_length"));
  CHECK(has(errors_of(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": -0.01})"), "price",
            "value_error.number.not_ge"));
  CHECK(has(errors_of(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1e308})"), "price",
            "value_error.number.not_le"));
  CHECK(has(errors_of(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1, "admin": true})"), "admin",
            "value_error.extra"));
  CHECK(has(errors_of(R"({"user_id": 1, "pokemon": "Mew\u0000", "country": "Peru", "price": 1})"), "pokemon",
            "value_error.str.nul"));
}

TEST_CASE("validation errors encode as FastAPI's 422 body", "[json]") {
  auto body = json::encode_validation_errors({{{"body", "price"}, "field required", "value_error.missing"}});
  CHECK(body == R"({"detail":[{"loc":["body","price"],"msg":"field required","type":"value_error.missing"}]})");
}

TEST_CASE("state updates accept only terminal states", "[json]") {
  auto ok = json::parse_state_update(R"({"state": "success"})");
  REQUIRE(std::holds_alternative<order_state>(ok));
  CHECK(std::get<order_state>(ok) == order_state::success);
  auto whole = json::parse_state_update(
      R"({"id": 1, "user_id": 2, "pokemon": "Mew", "country": "Peru", "price": 3, "state": "rejected", "timestamp": "x"})");
  CHECK(std::holds_alternative<order_state>(whole));
  CHECK(std::holds_alternative<json::validation_errors>(json::parse_state_update(R"({"state": "pending"})")));
  CHECK(std::holds_alternative<json::validation_errors>(json::parse_state_update(R"({"state": "shipped"})")));
  CHECK(std::holds_alternative<json::validation_errors>(json::parse_state_update(R"({"state": 1})")));
  CHECK(std::holds_alternative<json::validation_errors>(json::parse_state_update(R"({})")));
  CHECK(std::holds_alternative<json::validation_errors>(json::parse_state_update(R"({"state":"success","x":1})")));
  CHECK(std::holds_alternative<json::validation_errors>(json::parse_state_update("nope")));
}

TEST_CASE("orders round-trip through the Kafka codec", "[json]") {
  order o{17, 5, "Dragonite \"quoted\"", "Perú", 250.25, order_state::pending, "2026-11-25T12:00:00.000000Z"};
  auto text = json::encode_order(o);
  auto back = json::decode_order_message(text, false);
  REQUIRE(std::holds_alternative<order>(back));
  auto b = std::get<order>(back);
  CHECK(b.id == 17);
  CHECK(b.user_id == 5);
  CHECK(b.pokemon == o.pokemon);
  CHECK(b.country == o.country);
  CHECK(b.price == 250.25);
  CHECK(b.timestamp == o.timestamp);
  CHECK(b.state == order_state::pending);
  // A pending order is not a decision.
  CHECK(std::holds_alternative<std::string>(json::decode_order_message(text, true)));
}

TEST_CASE("poison Kafka messages are named, not crashed on", "[json]") {
  auto err = [](std::string_view p) {
    auto r = json::decode_order_message(p, false);
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
  };
  CHECK(err(R"({"id": 1, "user_id": 2, "pokem)").find("invalid JSON") == 0);  // the seed's truncated message
  CHECK(err("").find("invalid JSON") == 0);
  CHECK(err("42") == "not a JSON object");
  CHECK(err(R"({"user_id": 2, "pokemon": "Mew", "country": "Peru", "price": 1})") == "missing field 'id'");
  CHECK(err(R"({"id": "1", "user_id": 2, "pokemon": "Mew", "country": "Peru", "price": 1})") ==
        "field 'id' is not an integer");
  CHECK(err(R"({"id": 1, "user_id": 2, "pokemon": "Mew", "country": "Peru", "price": "1"})") ==
        "field 'price' is not a number");
  CHECK(err(R"({"id": 1, "user_id": 2, "pokemon": "Mew", "country": "Peru", "price": 1, "state": "lost"})") ==
        "unknown state 'lost'");
  CHECK(err(R"({"id": -4, "user_id": 2, "pokemon": "Mew", "country": "Peru", "price": 1})") ==
        "field 'id' must be positive");
}

TEST_CASE("numbers convert exactly, including the ones RapidJSON's own conversion got wrong", "[json]") {
  auto price_of = [](std::string_view number) -> std::optional<double> {
    auto r = json::parse_new_order(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": )" +
                                   std::string(number) + "}");
    if (!std::holds_alternative<json::new_order>(r)) return std::nullopt;
    return std::get<json::new_order>(r).price;
  };
  // A zero significand with an exponent past +-22 made RapidJSON 1.1.0 call
  // __builtin_clzll(0) (undefined behaviour; found by the json_codec fuzz target).
  for (auto zero : {"0e38", "0e-23", "0e155", "0.000e300", "0E-300", "0.0e23"}) {
    INFO(zero);
    REQUIRE(price_of(zero).has_value());
    CHECK(*price_of(zero) == 0.0);
  }
  CHECK(*price_of("0.30000000000000004") == 0.1 + 0.2);  // correctly rounded, not off by an ulp
  CHECK(*price_of("12.34") == 12.34);
  CHECK(*price_of("1e-400") == 0.0);                      // below the range: zero
  CHECK(*price_of("999999.99999999999999999999") == 1000000.0);
  CHECK(has(errors_of(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1.8e308})"), "price",
            "value_error.number.not_finite"));            // past the range: infinite, rejected
  // An exponent past 308 is refused by the reader itself ("Number too big"), even on 0, and
  // named as out of range.
  CHECK(errors_of(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1e400})")[0].type ==
        "value_error.number.out_of_range");

  auto user_of = [](std::string_view number) -> std::optional<std::int64_t> {
    auto r = json::parse_new_order(R"({"pokemon": "Mew", "country": "Peru", "price": 1, "user_id": )" +
                                   std::string(number) + "}");
    if (!std::holds_alternative<json::new_order>(r)) return std::nullopt;
    return std::get<json::new_order>(r).user_id;
  };
  CHECK(user_of("9223372036854775807") == INT64_MAX);
  CHECK(user_of("-0") == 0);
  CHECK(user_of("5.0") == 5);
  CHECK(user_of("2e1") == 20);
  CHECK_FALSE(user_of("9223372036854775808").has_value());   // uint64, past int64
  CHECK_FALSE(user_of("18446744073709551616").has_value());  // past uint64: a double, too large
  CHECK_FALSE(user_of("5.5").has_value());

  auto msg = json::decode_order_message(
      R"({"id": 1, "user_id": 2, "pokemon": "a", "country": "b", "price": 0e38, "state": "success"})", true);
  REQUIRE(std::holds_alternative<order>(msg));
  CHECK(std::get<order>(msg).price == 0.0);
  CHECK(std::holds_alternative<std::string>(json::decode_order_message(
      R"({"id": 18446744073709551615, "user_id": 2, "pokemon": "a", "country": "b", "price": 1})", false)));
}
