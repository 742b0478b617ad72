// libFuzzer target: every JSON decoder in src/core/json/codec.* on the same bytes: the POST
// /orders body, the PUT /orders/{id} body, and an order message from poke-orders and
// poke-orders-state. Properties checked beyond "no crash, no sanitizer report":
//   - a decoded Kafka order re-encodes (encode_order) to JSON that decodes to the same order;
//   - every 422 body (encode_validation_errors) is itself valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

#include <rapidjson/document.h>

#include "core/json/codec.hpp"

namespace {

using namespace pokeflow;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

void check_errors_json(const core::json::validation_errors& errs) {
  auto body = core::json::encode_validation_errors(errs);
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  check(!d.HasParseError() && d.IsObject() && d.HasMember("detail"), "422 body is valid JSON with a detail");
}

bool same(const order& a, const order& b) {
  // Bitwise price comparison: -0.0 must stay -0.0, and NaN never gets this far.
  return a.id == b.id && a.user_id == b.user_id && a.pokemon == b.pokemon && a.country == b.country &&
         std::memcmp(&a.price, &b.price, sizeof a.price) == 0 && a.state == b.state && a.timestamp == b.timestamp;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto created = core::json::parse_new_order(in);
  if (auto* errs = std::get_if<core::json::validation_errors>(&created)) {
    check(!errs->empty(), "a rejected order names at least one problem");
    check_errors_json(*errs);
  } else {
    const auto& o = std::get<core::json::new_order>(created);
    check(o.user_id >= 0 && o.price >= 0 && o.price <= core::json::max_price, "accepted order within limits");
    check(!o.pokemon.empty() && !o.country.empty(), "accepted order has names");
  }

  auto updated = core::json::parse_state_update(in);
  if (auto* errs = std::get_if<core::json::validation_errors>(&updated)) {
    check(!errs->empty(), "a rejected update names at least one problem");
    check_errors_json(*errs);
  } else {
    check(std::get<order_state>(updated) != order_state::pending, "an update never sets pending");
  }

  for (bool require_state : {false, true}) {
    auto decoded = core::json::decode_order_message(in, require_state);
    if (auto* err = std::get_if<std::string>(&decoded)) {
      check(!err->empty(), "a poison message is named");
      continue;
    }
    const auto& o = std::get<order>(decoded);
    auto again = core::json::decode_order_message(core::json::encode_order(o), require_state);
    check(std::holds_alternative<order>(again), "an encoded order decodes");
    check(same(o, std::get<order>(again)), "an order survives encode + decode unchanged");
  }
  return 0;
}
