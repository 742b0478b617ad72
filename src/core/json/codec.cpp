#include "core/json/codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <limits>

namespace pokeflow::core::json {
namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

// kParseFullPrecisionFlag keeps prices exact; NaN/Infinity literals and trailing data stay rejected.
constexpr unsigned parse_flags = rapidjson::kParseFullPrecisionFlag;

bool parse_document(rapidjson::Document& doc, std::string_view body, std::string& error) {
  doc.Parse<parse_flags>(body.data(), body.size());
  if (doc.HasParseError()) {
    error = std::string(rapidjson::GetParseError_En(doc.GetParseError())) + " at offset " +
            std::to_string(doc.GetErrorOffset());
    return false;
  }
  return true;
}


void check_name(const rapidjson::Value& obj, const char* key, std::string& out, validation_errors& errs) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) {
    errs.push_back({{"body", key}, "field required", "value_error.missing"});
    return;
  }
  if (!it->value.IsString()) {
    errs.push_back({{"body", key}, "str type expected", "type_error.str"});
    return;
  }
  std::string_view s(it->value.GetString(), it->value.GetStringLength());
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    errs.push_back({{"body", key}, "ensure this value is not empty", "value_error.any_str.min_length"});
    return;
  }
  // Characters (code points), as the message says and FastAPI counted: UTF-8 continuation
  // bytes (10xxxxxx) do not start one.
  std::size_t chars = 0;
  for (unsigned char ch : s) chars += (ch & 0xC0) != 0x80;
  if (chars > max_name_length) {
    errs.push_back({{"body", key},
                    "ensure this value has at most " + std::to_string(max_name_length) + " characters",
                    "value_error.any_str.max_length"});
    return;
  }
  if (s.find('\0') != std::string_view::npos) {
    errs.push_back({{"body", key}, "string contains a NUL character", "value_error.str.nul"});
    return;
  }
  out.assign(s);
}

// An integer as JSON Schema (and /openapi.json) means it: 5 and 5.0 both, nothing with a
// fraction, nothing outside int64. Booleans and strings are not numbers.
std::optional<std::int64_t> integral(const rapidjson::Value& v) {
  if (v.IsInt64()) return v.GetInt64();
  if (!v.IsDouble()) return std::nullopt;
  double d = v.GetDouble();
  // Integer literals that fit int64 took the branch above; a double at -2^63 may be a rounded
  // -9223372036854775809, so both bounds are exclusive.
  if (!std::isfinite(d) || d != std::trunc(d) || d <= -9223372036854775808.0 || d >= 9223372036854775808.0)
    return std::nullopt;
  return static_cast<std::int64_t>(d);
}

void write_order(writer& w, const order& o) {
  w.StartObject();
  w.Key("id");
  w.Int64(o.id);
  w.Key("user_id");
  w.Int64(o.user_id);
  w.Key("pokemon");
  w.String(o.pokemon.data(), static_cast<rapidjson::SizeType>(o.pokemon.size()));
  w.Key("country");
  w.String(o.country.data(), static_cast<rapidjson::SizeType>(o.country.size()));
  w.Key("price");
  w.Double(o.price);
  w.Key("state");
  w.String(to_string(o.state));
  w.Key("timestamp");
  w.String(o.timestamp.data(), static_cast<rapidjson::SizeType>(o.timestamp.size()));
  w.EndObject();
}

}  // namespace

std::variant<new_order, validation_errors> parse_new_order(std::string_view body) {
  rapidjson::Document doc;
  std::string perr;
  if (!parse_document(doc, body, perr)) return validation_errors{{{"body"}, perr, "value_error.jsondecode"}};
  if (!doc.IsObject()) return validation_errors{{{"body"}, "value is not a valid dict", "type_error.dict"}};
  validation_errors errs;
  new_order out;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    if (k != "user_id" && k != "pokemon" && k != "country" && k != "price")
      errs.push_back({{"body", std::string(k)}, "extra fields not permitted", "value_error.extra"});
  }
  if (auto it = doc.FindMember("user_id"); it == doc.MemberEnd()) {
    errs.push_back({{"body", "user_id"}, "field required", "value_error.missing"});
  } else if (auto uid = integral(it->value); !uid) {  // fractions, booleans, strings, past int64
    errs.push_back({{"body", "user_id"}, "value is not a valid integer", "type_error.integer"});
  } else if (*uid < 0) {
    errs.push_back({{"body", "user_id"}, "ensure this value is greater than or equal to 0",
                    "value_error.number.not_ge"});
  } else {
    out.user_id = *uid;
  }
  check_name(doc, "pokemon", out.pokemon, errs);
  check_name(doc, "country", out.country, errs);
  if (auto it = doc.FindMember("price"); it == doc.MemberEnd()) {
    errs.push_back({{"body", "price"}, "field required", "value_error.missing"});
  } else if (!it->value.IsNumber()) {
    errs.push_back({{"body", "price"}, "value is not a valid float", "type_error.float"});
  } else {
    double p = it->value.GetDouble();
    if (!std::isfinite(p)) {
      errs.push_back({{"body", "price"}, "value is not a finite number", "value_error.number.not_finite"});
    } else if (p < 0) {
      errs.push_back({{"body", "price"}, "ensure this value is greater than or equal to 0",
                      "value_error.number.not_ge"});
    } else if (p > max_price) {
      errs.push_back({{"body", "price"}, "ensure this value is less than or equal to 1000000",
                      "value_error.number.not_le"});
    } else {
      out.price = p;
    }
  }
  if (!errs.empty()) return errs;
  return out;
}

std::variant<order_state, validation_errors> parse_state_update(std::string_view body) {
  rapidjson::Document doc;
  std::string perr;
  if (!parse_document(doc, body, perr)) return validation_errors{{{"body"}, perr, "value_error.jsondecode"}};
  if (!doc.IsObject()) return validation_errors{{{"body"}, "value is not a valid dict", "type_error.dict"}};
  validation_errors errs;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    const auto& v = it->value;
    // The seed's updater sent the whole order: its fields are ignored, but must have the
    // order's types (as /openapi.json says), so nothing else slips through them.
    if (k == "id" || k == "user_id") {
      if (!integral(v)) errs.push_back({{"body", std::string(k)}, "value is not a valid integer", "type_error.integer"});
    } else if (k == "pokemon" || k == "country" || k == "timestamp") {
      if (!v.IsString()) errs.push_back({{"body", std::string(k)}, "str type expected", "type_error.str"});
    } else if (k == "price") {
      if (!v.IsNumber()) errs.push_back({{"body", std::string(k)}, "value is not a valid float", "type_error.float"});
    } else if (k != "state") {
      errs.push_back({{"body", std::string(k)}, "extra fields not permitted", "value_error.extra"});
    }
  }
  std::optional<order_state> st;
  if (auto it = doc.FindMember("state"); it == doc.MemberEnd()) {
    errs.push_back({{"body", "state"}, "field required", "value_error.missing"});
  } else if (!it->value.IsString()) {
    errs.push_back({{"body", "state"}, "str type expected", "type_error.str"});
  } else {
    st = parse_order_state(std::string_view(it->value.GetString(), it->value.GetStringLength()));
    if (!st || *st == order_state::pending) {
      errs.push_back({{"body", "state"},
                      "value is not a valid enumeration member; permitted: 'rejected', 'failed', 'success', "
                      "'reversed'",
                      "type_error.enum"});
    }
  }
  if (!errs.empty()) return errs;
  return *st;
}

std::string encode_order(const order& o) {
  rapidjson::StringBuffer sb;
  writer w(sb);
  write_order(w, o);
  return {sb.GetString(), sb.GetSize()};
}

std::string encode_orders(const std::vector<order>& orders) {
  rapidjson::StringBuffer sb;
  writer w(sb);
  w.StartArray();
  for (const auto& o : orders) write_order(w, o);
  w.EndArray();
  return {sb.GetString(), sb.GetSize()};
}

std::string encode_validation_errors(const validation_errors& errors) {
  rapidjson::StringBuffer sb;
  writer w(sb);
  w.StartObject();
  w.Key("detail");
  w.StartArray();
  for (const auto& e : errors) {
    w.StartObject();
    w.Key("loc");
    w.StartArray();
    for (const auto& l : e.loc) w.String(l.data(), static_cast<rapidjson::SizeType>(l.size()));
    w.EndArray();
    w.Key("msg");
    w.String(e.msg.data(), static_cast<rapidjson::SizeType>(e.msg.size()));
    w.Key("type");
    w.String(e.type.data(), static_cast<rapidjson::SizeType>(e.type.size()));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string encode_detail(std::string_view message) {
  rapidjson::StringBuffer sb;
  writer w(sb);
  w.StartObject();
  w.Key("detail");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string encode_conflict(std::string_view message, order_state current) {
  rapidjson::StringBuffer sb;
  writer w(sb);
  w.StartObject();
  w.Key("detail");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.Key("state");
  w.String(to_string(current));
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::variant<order, std::string> decode_order_message(std::string_view payload, bool require_state) {
  rapidjson::Document doc;
  std::string perr;
  if (!parse_document(doc, payload, perr)) return "invalid JSON: " + perr;
  if (!doc.IsObject()) return std::string("not a JSON object");
  order o;
  auto get_int = [&](const char* k, std::int64_t& out) -> std::optional<std::string> {
    auto it = doc.FindMember(k);
    if (it == doc.MemberEnd()) return std::string("missing field '") + k + "'";
    if (!it->value.IsInt64()) return std::string("field '") + k + "' is not an integer";
    out = it->value.GetInt64();
    return std::nullopt;
  };
  auto get_str = [&](const char* k, std::string& out, bool required) -> std::optional<std::string> {
    auto it = doc.FindMember(k);
    if (it == doc.MemberEnd()) {
      if (required) return std::string("missing field '") + k + "'";
      return std::nullopt;
    }
    if (!it->value.IsString()) return std::string("field '") + k + "' is not a string";
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return std::nullopt;
  };
  if (auto e = get_int("id", o.id)) return *e;
  if (o.id <= 0) return std::string("field 'id' must be positive");
  if (auto e = get_int("user_id", o.user_id)) return *e;
  if (auto e = get_str("pokemon", o.pokemon, true)) return *e;
  if (auto e = get_str("country", o.country, true)) return *e;
  if (auto it = doc.FindMember("price"); it == doc.MemberEnd()) {
    return std::string("missing field 'price'");
  } else if (!it->value.IsNumber() || !std::isfinite(it->value.GetDouble())) {
    return std::string("field 'price' is not a number");
  } else {
    o.price = it->value.GetDouble();
  }
  if (auto e = get_str("timestamp", o.timestamp, false)) return *e;
  std::string state_text;
  if (auto e = get_str("state", state_text, require_state)) return *e;
  if (!state_text.empty()) {
    auto st = parse_order_state(state_text);
    if (!st) return "unknown state '" + state_text + "'";
    o.state = *st;
  }
  if (require_state && o.state == order_state::pending) return std::string("state must be terminal, got 'pending'");
  return o;
}

}  // namespace pokeflow::core::json
