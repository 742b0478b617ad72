#include "roles/loadgen/orders.hpp"

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "core/text.hpp"

namespace pokeflow::roles::loadgen {

std::vector<std::string> load_list(const std::string& path) {
  std::string content;
  try {
    content = core::text::read_file(path, "list file");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + " (set --pokemon-file / --countries-file)");
  }
  std::vector<std::string> out;
  for (auto& line : core::text::split_list(content, '\n'))
    if (line[0] != '#') out.push_back(std::move(line));
  if (out.empty()) throw std::runtime_error(path + ": no entries");
  return out;
}

order_factory::order_factory(std::vector<std::string> pokemon, std::vector<std::string> countries,
                             std::uint64_t seed)
    : pokemon_(std::move(pokemon)), countries_(std::move(countries)), rng_(seed) {
  if (pokemon_.empty() || countries_.empty()) throw std::invalid_argument("order_factory: empty name list");
}

order_request order_factory::make(std::int64_t user_id) {
  std::uniform_int_distribution<std::size_t> p(0, pokemon_.size() - 1);
  std::uniform_int_distribution<std::size_t> c(0, countries_.size() - 1);
  std::uniform_int_distribution<int> cents(0, 30000);
  order_request o;
  o.user_id = user_id;
  o.pokemon = pokemon_[p(rng_)];
  o.country = countries_[c(rng_)];
  o.price = cents(rng_) / 100.0;
  return o;
}

std::string order_body(const order_request& o) {
  char price[32];
  std::snprintf(price, sizeof price, "%.2f", o.price);
  std::string b;
  b.reserve(96);
  b += "{\"user_id\":";
  b += std::to_string(o.user_id);
  b += ",\"pokemon\":\"";
  b += core::text::json_escape(o.pokemon);
  b += "\",\"country\":\"";
  b += core::text::json_escape(o.country);
  b += "\",\"price\":";
  b += price;
  b += '}';
  return b;
}

}  // namespace pokeflow::roles::loadgen
