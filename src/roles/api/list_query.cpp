#include "roles/api/list_query.hpp"

#include <charconv>
#include <cmath>

namespace pokeflow::roles::api {
namespace {


std::string permitted_states() {
  std::string out;
  for (auto s : limits::states) {
    if (!out.empty()) out += ", ";
    out += "'" + std::string(s) + "'";
  }
  return out;
}

}  // namespace

std::optional<std::int64_t> parse_integer(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size()) return v;
  // "20.0" is an integer too, as JSON Schema (and so /openapi.json) counts; "20.5" is not.
  double d = 0;
  auto [q, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec2 != std::errc() || q != s.data() + s.size() || !std::isfinite(d) || d != std::trunc(d) ||
      d <= -9223372036854775808.0 || d >= 9223372036854775808.0)
    return std::nullopt;
  return static_cast<std::int64_t>(d);
}

std::variant<list_query, core::json::validation_errors> parse_list_query(
    const std::map<std::string, std::string>& query) {
  list_query out;
  core::json::validation_errors errs;
  if (auto it = query.find("state"); it != query.end() && !it->second.empty()) {
    out.state = parse_order_state(it->second);
    if (!out.state)
      errs.push_back({{"query", "state"},
                      "value is not a valid enumeration member; permitted: " + permitted_states(),
                      "type_error.enum"});
  }
  if (auto it = query.find("skip"); it != query.end()) {
    auto v = parse_integer(it->second);
    if (!v)
      errs.push_back({{"query", "skip"}, "value is not a valid integer", "type_error.integer"});
    else if (*v < limits::list_skip_min)
      errs.push_back({{"query", "skip"},
                      "ensure this value is greater than or equal to " + std::to_string(limits::list_skip_min),
                      "value_error.number.not_ge"});
    else if (*v > limits::list_skip_max)
      errs.push_back({{"query", "skip"},
                      "ensure this value is less than or equal to " + std::to_string(limits::list_skip_max),
                      "value_error.number.not_le"});
    else
      out.skip = *v;
  }
  if (auto it = query.find("limit"); it != query.end()) {
    auto v = parse_integer(it->second);
    if (!v)
      errs.push_back({{"query", "limit"}, "value is not a valid integer", "type_error.integer"});
    else if (*v < limits::list_limit_min)
      errs.push_back({{"query", "limit"},
                      "ensure this value is greater than or equal to " + std::to_string(limits::list_limit_min),
                      "value_error.number.not_ge"});
    else if (*v > limits::list_limit_max)
      errs.push_back({{"query", "limit"},
                      "ensure this value is less than or equal to " + std::to_string(limits::list_limit_max),
                      "value_error.number.not_le"});
    else
      out.limit = *v;
  }
  if (!errs.empty()) return errs;
  return out;
}

}  // namespace pokeflow::roles::api
