// Strict JSON (limits.hpp): what every body and Kafka message must be, probed at each rule.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "core/json/codec.hpp"

using namespace pokeflow;
namespace json = pokeflow::core::json;

namespace {
std::string order_with(std::string_view pokemon_literal, std::string_view extra = "") {
  return std::string(R"({"user_id": 1, "pokemon": )") + std::string(pokemon_literal) +
         R"(, "country": "Peru", "price": 1)" + std::string(extra) + "}";
}
json::validation_error first_error(std::string_view body) {
  auto r = json::parse_new_order(body);
  REQUIRE(std::holds_alternative<json::validation_errors>(r));
  return std::get<json::validation_errors>(r).at(0);
}
std::vector<std::string> loc(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }
std::string kafka_error(std::string_view payload, bool require_state = false) {
  auto r = json::decode_order_message(payload, require_state);
  REQUIRE(std::holds_alternative<std::string>(r));
  return std::get<std::string>(r);
}
}  // namespace

TEST_CASE("invalid UTF-8 in any string is a 422 naming the field", "[json]") {
  for (std::string bad : {std::string("\"zz\xff\""), std::string("\"zz\xc0\xaf\""), std::string("\"zz\xe2\x82\""),
                          std::string("\"\xed\xa0\x80\""), std::string("\"\xf4\x90\x80\x80\""),
                          std::string(R"("zz\udc00")")}) {
    INFO(bad);
    auto e = first_error(order_with(bad));
    CHECK(e.loc == loc({"body", "pokemon"}));
    CHECK(e.type == "value_error.str.unicode");
  }
  // A lone high surrogate escape is refused by the parser itself, still naming the field.
  CHECK(first_error(order_with(R"("zz\ud800")")).loc == loc({"body", "pokemon"}));
  // Valid multi-byte text and escaped pairs pass, and length counts characters, not bytes.
  auto ok = json::parse_new_order(order_with(R"("Pok\u00e9mon \ud83d\ude00")"));
  REQUIRE(std::holds_alternative<json::new_order>(ok));
  CHECK(std::get<json::new_order>(ok).pokemon == "Pok\xc3\xa9mon \xf0\x9f\x98\x80");
  std::string e64;
  for (int i = 0; i < 64; ++i) e64 += "\xc3\xa9";  // 64 characters, 128 bytes
  CHECK(std::holds_alternative<json::new_order>(json::parse_new_order(order_with("\"" + e64 + "\""))));
  CHECK(first_error(order_with("\"" + e64 + "e\"")).type == "value_error.any_str.max_length");
  // A key that is not UTF-8 is never echoed back.
  auto key = first_error("{\"\xff\": 1}");
  CHECK(key.loc == loc({"body"}));
  CHECK(key.type == "value_error.key.unicode");
}

TEST_CASE("duplicate keys are rejected, naming the key", "[json]") {
  auto e = first_error(R"({"user_id": 1, "pokemon": "Mew", "pokemon": "Ditto", "country": "Peru", "price": 1})");
  CHECK(e.loc == loc({"body", "pokemon"}));
  CHECK(e.type == "value_error.duplicate_key");
  CHECK(std::holds_alternative<json::validation_errors>(json::parse_state_update(R"({"state":"success","state":"rejected"})")));
  CHECK(kafka_error(R"({"id":1,"id":2,"user_id":1,"pokemon":"a","country":"b","price":1})") ==
        "invalid JSON: field 'id': duplicate key");
}

TEST_CASE("nesting is bounded before parsing, so no depth can overflow the stack", "[json]") {
  std::string deep(200000, '[');
  CHECK(first_error(deep).type == "value_error.jsondecode.depth");
  CHECK(kafka_error(deep).find("nested deeper than 32") != std::string::npos);
  CHECK(kafka_error(std::string(100000, '{')).find("nested deeper") != std::string::npos);
  // Brackets inside strings do not count; 32 levels still parse (and fail as not an order).
  CHECK(std::holds_alternative<json::new_order>(json::parse_new_order(order_with("\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\""))));
  CHECK(first_error(std::string(32, '[') + std::string(32, ']')).type == "type_error.dict");
  CHECK(first_error(std::string(33, '[') + std::string(33, ']')).type == "value_error.jsondecode.depth");
}

TEST_CASE("numbers out of range are named: NaN, 1e400, 2^63, and -0 is 0", "[json]") {
  auto nan = first_error(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": NaN})");
  CHECK(nan.loc == loc({"body", "price"}));
  auto big = first_error(R"({"user_id": 1, "pokemon": "Mew", "country": "Peru", "price": 1e400})");
  CHECK(big.loc == loc({"body", "price"}));
  CHECK(big.type == "value_error.number.out_of_range");
  auto huge_id = first_error(R"({"user_id": 9223372036854775808, "pokemon": "Mew", "country": "Peru", "price": 1})");
  CHECK(huge_id.loc == loc({"body", "user_id"}));
  CHECK(huge_id.type == "value_error.number.not_le");
  auto max_id = json::parse_new_order(R"({"user_id": 9223372036854775807, "pokemon": "Mew", "country": "Peru", "price": 1})");
  REQUIRE(std::holds_alternative<json::new_order>(max_id));
  auto zero = json::parse_new_order(R"({"user_id": -0, "pokemon": "Mew", "country": "Peru", "price": -0.0})");
  REQUIRE(std::holds_alternative<json::new_order>(zero));
  CHECK(std::get<json::new_order>(zero).user_id == 0);
  CHECK_FALSE(std::signbit(std::get<json::new_order>(zero).price));
  CHECK(kafka_error(R"({"id":1,"user_id":1,"pokemon":"a","country":"b","price":1e400})").find("field 'price'") !=
        std::string::npos);
  CHECK(kafka_error(R"({"id":9223372036854775808,"user_id":1,"pokemon":"a","country":"b","price":1})") ==
        "field 'id' is not an integer");
}

TEST_CASE("poison Kafka strings go to the DLQ path: invalid UTF-8 and NUL", "[json]") {
  CHECK(kafka_error("{\"id\":1,\"user_id\":1,\"pokemon\":\"\xff\",\"country\":\"b\",\"price\":1}") ==
        "invalid JSON: field 'pokemon': string is not valid UTF-8");
  CHECK(kafka_error(R"({"id":1,"user_id":1,"pokemon":"a\u0000","country":"b","price":1})") ==
        "field 'pokemon' contains a NUL character");
  CHECK(kafka_error(R"({"id":1,"user_id":1,"pokemon":"a","country":"b","price":1,"state":"\udc00"})", true) ==
        "invalid JSON: field 'state': string is not valid UTF-8");
}
