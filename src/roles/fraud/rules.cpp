#include "roles/fraud/rules.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pokeflow::roles::fraud {
namespace {
std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
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
  std::istringstream in{std::string(text)};
  std::string raw;
  int n = 0;
  while (std::getline(in, raw)) {
    ++n;
    auto line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    auto where = "line " + std::to_string(n) + ": ";
    auto eq = line.find('=');
    if (eq == std::string::npos) throw std::invalid_argument(where + "expected name = value");
    auto key = trim(std::string_view(line).substr(0, eq));
    auto value = trim(std::string_view(line).substr(eq + 1));
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
      for (const auto& u : split_list(value)) {
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
      for (const auto& p : split_list(value)) {
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
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read fraud rules file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return parse_rules(ss.str());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("fraud rules file " + path + ": " + e.what());
  }
}

}  // namespace pokeflow::roles::fraud
