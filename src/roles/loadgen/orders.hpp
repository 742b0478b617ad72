#pragma once
// Synthetic orders that look real: a Pokémon and a country from the bundled lists
// (config/pokemon.txt, config/countries.txt) and a price of 0..300 with 2 decimals.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace pokeflow::roles::loadgen {

struct order_request {
  std::int64_t user_id = 0;
  std::string pokemon;
  std::string country;
  double price = 0;  // cents / 100, so its 2-decimal text is exact
};

// Lines of a list file, trimmed, skipping blank lines and '#' comments. Throws
// std::runtime_error naming the file when it cannot be read or has no entries.
std::vector<std::string> load_list(const std::string& path);

class order_factory {
 public:
  // Throws std::invalid_argument if a list is empty.
  order_factory(std::vector<std::string> pokemon, std::vector<std::string> countries, std::uint64_t seed);
  order_request make(std::int64_t user_id);

 private:
  std::vector<std::string> pokemon_;
  std::vector<std::string> countries_;
  std::mt19937_64 rng_;
};

// The POST /orders body: {"user_id":1,"pokemon":"Pikachu","country":"Chile","price":12.34}.
std::string order_body(const order_request& o);

}  // namespace pokeflow::roles::loadgen
