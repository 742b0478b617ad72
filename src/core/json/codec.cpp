#include "core/json/codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>

namespace pokeflow::core::json {
namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

// NaN/Infinity literals and trailing data stay rejected. Numbers arrive as text and are
// converted by number_converter, not by RapidJSON: see there. kParseIterativeFlag: no
// recursion, whatever the input (depth is also checked first).
constexpr unsigned parse_flags = rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag;

// Converts each number RapidJSON hands over as text and forwards every event to the document.
// RapidJSON 1.1.0's own conversion is unsafe: with kParseFullPrecisionFlag a zero significand
// with an exponent outside +-22 ("0e38", "0e-23") reaches __builtin_clzll(0), undefined
// behaviour (found by the json_codec fuzz target, docs/fuzzing.md); without the flag long
// decimals are off by an ulp. std::from_chars is exact and ignores the locale.
// The resulting types match RapidJSON's: integers that fit int64 or uint64 stay integers
// ("-0" is the integer 0), anything else is a double (+-inf past the range, which the codecs
// reject as not finite; +-0 below it).
class number_converter {
 public:
  explicit number_converter(rapidjson::Document& d) : d_(d) {}
  bool Null() { return d_.Null(); }
  bool Bool(bool b) { return d_.Bool(b); }
  bool Int(int i) { return d_.Int(i); }
  bool Uint(unsigned u) { return d_.Uint(u); }
  bool Int64(std::int64_t i) { return d_.Int64(i); }
  bool Uint64(std::uint64_t u) { return d_.Uint64(u); }
  bool Double(double v) { return d_.Double(v); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return d_.String(s, n, copy); }
  bool StartObject() { return d_.StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return d_.Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType n) { return d_.EndObject(n); }
  bool StartArray() { return d_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return d_.EndArray(n); }

  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    std::string_view t(s, n);
    const char* end = s + n;
    if (t.find_first_of(".eE") == std::string_view::npos) {
      std::int64_t i = 0;
      if (auto r = std::from_chars(s, end, i); r.ec == std::errc() && r.ptr == end) return d_.Int64(i);
      std::uint64_t u = 0;
      if (auto r = std::from_chars(s, end, u); r.ec == std::errc() && r.ptr == end) return d_.Uint64(u);
    }
    double v = 0;
    auto r = std::from_chars(s, end, v);
    if (r.ec == std::errc::result_out_of_range) {
      // Past the double range either way: strtod says which way (+-HUGE_VAL or +-0).
      v = std::strtod(std::string(t).c_str(), nullptr);
    } else if (r.ec != std::errc() || r.ptr != end) {
      return false;  // cannot happen for text the reader accepted as a JSON number
    }
    return d_.Double(v);
  }

 private:
  rapidjson::Document& d_;
};

// Where a problem sits, for messages: the JSON path of keys from the document's root.
using json_path = std::vector<std::string>;

// A problem found while reading a document, before any field is looked at.
struct doc_error {
  json_path path;  // empty: the document as a whole
  std::string msg;
  std::string type;
};

// True for well-formed UTF-8 in the strict sense of RFC 3629: no overlong forms, no
// surrogates (U+D800..U+DFFF, which is what an escaped lone "\udc00" decodes to), nothing past
// U+10FFFF, no sequence cut short.
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i <= n; ++i)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += n + 1;
  }
  return true;
}

// Deepest nesting of [ and { outside strings; stops counting past limit.
std::size_t nesting_depth(std::string_view s, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// The key whose value starts near offset in a (flat) object: what a parse error names.
// Printable ASCII keys only, so a message never echoes bytes we could not vouch for.
std::optional<std::string> key_before(std::string_view body, std::size_t offset) {
  if (offset > body.size()) return std::nullopt;
  auto colon = body.rfind(':', offset == 0 ? 0 : offset - 1);
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  auto close = body.find_last_not_of(" \t\r\n", colon - 1);
  if (close == std::string_view::npos || body[close] != '"' || close == 0) return std::nullopt;
  auto open = body.rfind('"', close - 1);
  if (open == std::string_view::npos) return std::nullopt;
  auto key = body.substr(open + 1, close - open - 1);
  if (key.empty() || key.size() > 64) return std::nullopt;
  for (char c : key)
    if (c < 0x20 || c > 0x7E || c == '\\') return std::nullopt;
  return std::string(key);
}

// Walks a parsed document: every key and string must be valid UTF-8, no object may repeat a
// key. (We reject duplicates rather than pick one: parsers disagree on which one wins, and a
// check that reads the first while a store reads the last is how validation gets bypassed.)
std::optional<doc_error> check_strings(const rapidjson::Value& v, json_path& path) {
  if (v.IsString()) {
    if (!valid_utf8({v.GetString(), v.GetStringLength()}))
      return doc_error{path, "string is not valid UTF-8", "value_error.str.unicode"};
    return std::nullopt;
  }
  if (v.IsArray()) {
    for (const auto& e : v.GetArray())
      if (auto err = check_strings(e, path)) return err;
    return std::nullopt;
  }
  if (!v.IsObject()) return std::nullopt;
  std::vector<std::string_view> keys;
  keys.reserve(v.MemberCount());
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    if (!valid_utf8(k)) return doc_error{path, "a key is not valid UTF-8", "value_error.key.unicode"};
    keys.push_back(k);
  }
  std::sort(keys.begin(), keys.end());
  if (auto d = std::adjacent_find(keys.begin(), keys.end()); d != keys.end()) {
    auto p = path;
    p.emplace_back(*d);
    return doc_error{p, "duplicate key", "value_error.duplicate_key"};
  }
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    path.emplace_back(it->name.GetString(), it->name.GetStringLength());
    auto err = check_strings(it->value, path);
    path.pop_back();
    if (err) return err;
  }
  return std::nullopt;
}

// Parses body strictly (see limits::json_max_depth). Recursion in check_strings is bounded by
// that depth.
std::optional<doc_error> parse_document(rapidjson::Document& doc, std::string_view body) {
  if (nesting_depth(body, limits::json_max_depth) > limits::json_max_depth)
    return doc_error{{}, "JSON nested deeper than " + std::to_string(limits::json_max_depth) + " levels",
                     "value_error.jsondecode.depth"};
  rapidjson::MemoryStream ms(body.data(), body.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  rapidjson::Reader reader;
  auto generate = [&](rapidjson::Document& d) {
    number_converter handler(d);
    return !reader.Parse<parse_flags>(is, handler).IsError();
  };
  doc.Populate(generate);
  if (reader.HasParseError()) {
    auto code = reader.GetParseErrorCode();
    auto offset = reader.GetErrorOffset();
    std::string msg = std::string(rapidjson::GetParseError_En(code)) + " at offset " + std::to_string(offset);
    json_path path;
    switch (code) {
      case rapidjson::kParseErrorValueInvalid:
      case rapidjson::kParseErrorNumberTooBig:
      case rapidjson::kParseErrorNumberMissFraction:
      case rapidjson::kParseErrorNumberMissExponent:
      case rapidjson::kParseErrorStringUnicodeEscapeInvalidHex:
      case rapidjson::kParseErrorStringUnicodeSurrogateInvalid:
      case rapidjson::kParseErrorStringEscapeInvalid:
      case rapidjson::kParseErrorStringMissQuotationMark:
      case rapidjson::kParseErrorStringInvalidEncoding:
        if (auto k = key_before(body, offset)) path.push_back(*k);
        break;
      default:
        break;
    }
    if (code == rapidjson::kParseErrorNumberTooBig)
      return doc_error{path, "number out of range (larger than a double): " + msg, "value_error.number.out_of_range"};
    return doc_error{path, msg, "value_error.jsondecode"};
  }
  json_path path;
  return check_strings(doc, path);
}

validation_errors to_validation_errors(const doc_error& e) {
  std::vector<std::string> loc{"body"};
  for (const auto& p : e.path) loc.push_back(p);
  return {{loc, e.msg, e.type}};
}

std::string describe(const doc_error& e) {
  if (e.path.empty()) return e.msg;
  std::string where;
  for (const auto& p : e.path) where += (where.empty() ? "" : ".") + p;
  return "field '" + where + "': " + e.msg;
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
  // Characters (Unicode code points), as the message and /openapi.json's maxLength say and
  // FastAPI counted, not bytes: the string is valid UTF-8 (parse_document checked), so every
  // byte that is not a continuation byte (10xxxxxx) starts one character.
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
  // -0 and -0.0 are 0 (both branches below give 0).
  if (v.IsInt64()) return v.GetInt64();
  if (!v.IsDouble()) return std::nullopt;
  double d = v.GetDouble();
  // Integer literals that fit int64 took the branch above; a double at -2^63 may be a rounded
  // -9223372036854775809, so both bounds are exclusive.
  if (!std::isfinite(d) || d != std::trunc(d) || d <= -9223372036854775808.0 || d >= 9223372036854775808.0)
    return std::nullopt;
  return static_cast<std::int64_t>(d);
}

// +1 for a whole number at or above 2^63, -1 at or below -2^63 - 1, 0 otherwise.
int beyond_int64(const rapidjson::Value& v) {
  if (!v.IsNumber() || v.IsInt64()) return 0;
  if (v.IsUint64()) return 1;
  double d = v.GetDouble();
  if (!std::isfinite(d) || d != std::trunc(d)) return 0;
  if (d >= 9223372036854775808.0) return 1;
  if (d < -9223372036854775808.0) return -1;
  return 0;
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
  if (auto e = parse_document(doc, body)) return to_validation_errors(*e);
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
  } else if (beyond_int64(it->value) > 0) {  // 2^63 and up: a clear bound, not "not an integer"
    errs.push_back({{"body", "user_id"}, "ensure this value is less than or equal to 9223372036854775807",
                    "value_error.number.not_le"});
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
      out.price = p == 0 ? 0.0 : p;  // -0 is stored and shown as 0
    }
  }
  if (!errs.empty()) return errs;
  return out;
}

std::variant<order_state, validation_errors> parse_state_update(std::string_view body) {
  rapidjson::Document doc;
  if (auto e = parse_document(doc, body)) return to_validation_errors(*e);
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
  if (auto e = parse_document(doc, payload)) return "invalid JSON: " + describe(*e);
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
    if (out.find('\0') != std::string::npos) return std::string("field '") + k + "' contains a NUL character";
    return std::nullopt;
  };
  if (auto e = get_int("id", o.id)) return *e;
  if (o.id <= 0) return std::string("field 'id' must be positive");
  if (auto e = get_int("user_id", o.user_id)) return *e;
  if (auto e = get_str("pokemon", o.pokemon, true)) return *e;
  if (auto e = get_str("country", o.country, true)) return *e;
  // The api never accepts longer names, so a longer one was not written by us.
  for (const auto* name : {&o.pokemon, &o.country}) {
    std::size_t chars = 0;
    for (unsigned char ch : *name) chars += (ch & 0xC0) != 0x80;
    if (chars > max_name_length)
      return std::string("field '") + (name == &o.pokemon ? "pokemon" : "country") + "' is longer than " +
             std::to_string(max_name_length) + " characters";
  }
  if (auto it = doc.FindMember("price"); it == doc.MemberEnd()) {
    return std::string("missing field 'price'");
  } else if (!it->value.IsNumber() || !std::isfinite(it->value.GetDouble())) {
    return std::string("field 'price' is not a number");
  } else {
    o.price = it->value.GetDouble() == 0 ? 0.0 : it->value.GetDouble();
  }
  if (auto e = get_str("timestamp", o.timestamp, false)) return *e;
  std::string state_text;
  if (auto e = get_str("state", state_text, require_state)) return *e;
  if (!state_text.empty()) {
    auto st = parse_order_state(state_text);
    if (!st) return state_text.size() <= 32 ? "unknown state '" + state_text + "'" : std::string("unknown state");
    o.state = *st;
  }
  if (require_state && o.state == order_state::pending) return std::string("state must be terminal, got 'pending'");
  return o;
}

}  // namespace pokeflow::core::json
