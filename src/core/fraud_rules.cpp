#include "core/fraud_rules.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "core/ini.hpp"
#include "core/text.hpp"

namespace pokeflow::core::fraud {
namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

order_state decide(const order& o, const fraud_rules& rules) noexcept {
  if (o.price > rules.max_price) return order_state::rejected;
  if (std::find(rules.blocked_users.begin(), rules.blocked_users.end(), o.user_id) != rules.blocked_users.end())
    return order_state::rejected;
  for (const auto& p : rules.blocked_prefixes) {
    if (o.pokemon.size() < p.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < p.size() && match; ++i)
      match = std::tolower(static_cast<unsigned char>(o.pokemon[i])) == static_cast<unsigned char>(p[i]);
    if (match) return order_state::rejected;
  }
  return order_state::success;
}

fraud_rules parse_rules(std::string_view text) {
  fraud_rules r;
  r.blocked_users.clear();
  r.blocked_prefixes.clear();
  bool have_price = false;
  for (const auto& [key, value, line] : ini::parse(text)) {
    auto where = "line " + std::to_string(line) + ": ";
    if (key == "max_price") {
      std::size_t used = 0;
      double v;
      try {
        v = std::stod(value, &used);
      } catch (const std::exception&) {
        throw std::invalid_argument(where + "max_price '" + value + "' is not a number");
      }
      if (used != value.size() || !std::isfinite(v) || v < 0)
        throw std::invalid_argument(where + "max_price '" + value + "' must be a finite number >= 0");
      r.max_price = v;
      have_price = true;
    } else if (key == "blocked_users") {
      for (const auto& u : text::split_list(value)) {
        std::size_t used = 0;
        long long id;
        try {
          id = std::stoll(u, &used);
        } catch (const std::exception&) {
          throw std::invalid_argument(where + "blocked user '" + u + "' is not an integer");
        }
        if (used != u.size()) throw std::invalid_argument(where + "blocked user '" + u + "' is not an integer");
        r.blocked_users.push_back(id);
      }
    } else if (key == "blocked_prefixes") {
      for (const auto& p : text::split_list(value)) {
        for (char c : p)
          if (std::isspace(static_cast<unsigned char>(c)))
            throw std::invalid_argument(where + "prefix '" + p + "' contains white space");
        r.blocked_prefixes.push_back(lower(p));
      }
    } else {
      throw std::invalid_argument(where + "unknown rule '" + key +
                                  "' (expected max_price, blocked_users, blocked_prefixes)");
    }
  }
  if (!have_price) throw std::invalid_argument("max_price is required");
  return r;
}

fraud_rules load_rules(const std::string& path) {
  return text::parse_file(path, "fraud rules file", parse_rules);
}

}  // namespace pokeflow::core::fraud
