#include <catch2/catch.hpp>

#include "pokeflow/order.hpp"
#include "core/fraud_rules.hpp"

using namespace pokeflow;
namespace fraud = pokeflow::core::fraud;

namespace {
order make(std::int64_t user, std::string pokemon, double price) {
  order o;
  o.id = 1;
  o.user_id = user;
  o.pokemon = std::move(pokemon);
  o.country = "Chile";
  o.price = price;
  return o;
}
}  // namespace

TEST_CASE("the seed's fraud rules", "[rules]") {
  fraud_rules seed;  // defaults are the seed's rules
  CHECK(fraud::decide(make(1, "Pikachu", 10), seed) == order_state::success);
  CHECK(fraud::decide(make(1, "Pikachu", 200), seed) == order_state::success);  // strictly above rejects
  CHECK(fraud::decide(make(1, "Pikachu", 200.01), seed) == order_state::rejected);
  CHECK(fraud::decide(make(5, "Pikachu", 1), seed) == order_state::rejected);
  CHECK(fraud::decide(make(1, "ditto", 1), seed) == order_state::rejected);
  CHECK(fraud::decide(make(1, "Ditto", 1), seed) == order_state::rejected);
  CHECK(fraud::decide(make(1, "Feebas", 1), seed) == order_state::rejected);
  CHECK(fraud::decide(make(1, "Abra", 1), seed) == order_state::rejected);
  CHECK(fraud::decide(make(1, "Bulbasaur", 1), seed) == order_state::success);
  CHECK(fraud::decide(make(1, "", 1), seed) == order_state::success);
}

TEST_CASE("every combination of the three rules", "[rules]") {
  fraud_rules seed;
  for (bool pricey : {false, true})
    for (bool blocked : {false, true})
      for (bool prefix : {false, true}) {
        auto o = make(blocked ? 5 : 2, prefix ? "Arbok" : "Mew", pricey ? 300 : 50);
        auto expected = (pricey || blocked || prefix) ? order_state::rejected : order_state::success;
        CHECK(fraud::decide(o, seed) == expected);
        CHECK(fraud::decide(o, seed) == fraud::decide(o, seed));  // reprocessing gives the same answer
      }
}

TEST_CASE("rules files parse and are validated", "[rules]") {
  auto r = fraud::parse_rules("# c\nmax_price = 50.5\nblocked_users = 7, 9\nblocked_prefixes = Pi, z\n");
  CHECK(r.max_price == 50.5);
  CHECK(r.blocked_users == std::vector<std::int64_t>{7, 9});
  CHECK(r.blocked_prefixes == std::vector<std::string>{"pi", "z"});
  CHECK(fraud::decide(make(1, "Pikachu", 1), r) == order_state::rejected);
  CHECK(fraud::decide(make(9, "Mew", 1), r) == order_state::rejected);
  CHECK(fraud::decide(make(1, "Mew", 51), r) == order_state::rejected);
  CHECK(fraud::decide(make(5, "Mew", 1), r) == order_state::success);
  CHECK_THROWS_WITH(fraud::parse_rules("max_price = lots\n"), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(fraud::parse_rules("max_price = -1\n"), Catch::Contains(">= 0"));
  CHECK_THROWS_WITH(fraud::parse_rules("max_price = 1\nblocked_users = x\n"), Catch::Contains("not an integer"));
  CHECK_THROWS_WITH(fraud::parse_rules("max_price = 1\nmood = grumpy\n"), Catch::Contains("unknown rule"));
  CHECK_THROWS_WITH(fraud::parse_rules("blocked_users = 1\n"), Catch::Contains("max_price is required"));
  CHECK_THROWS_WITH(fraud::parse_rules("max_price 1\n"), Catch::Contains("line 1"));
}

TEST_CASE("the shipped rules file is the seed's rules", "[rules]") {
  auto r = fraud::load_rules(POKEFLOW_SOURCE_DIR "/config/fraud-rules.ini");
  fraud_rules seed;
  CHECK(r.max_price == seed.max_price);
  CHECK(r.blocked_users == seed.blocked_users);
  CHECK(r.blocked_prefixes == seed.blocked_prefixes);
  CHECK_THROWS(fraud::load_rules("/nonexistent/rules.ini"));
}

TEST_CASE("state transitions: only pending moves, terminal states never change", "[transitions]") {
  const order_state all[] = {order_state::pending, order_state::rejected, order_state::failed, order_state::success,
                             order_state::reversed};
  for (auto from : all)
    for (auto to : all) {
      auto r = check_transition(from, to);
      if (from == order_state::pending && to != order_state::pending) CHECK(r == transition_outcome::applied);
      else if (from == to) CHECK(r == transition_outcome::unchanged);
      else CHECK(r == transition_outcome::conflict);
    }
  CHECK(check_transition(order_state::reversed, order_state::success) == transition_outcome::conflict);
  for (auto s : all) CHECK(parse_order_state(to_string(s)) == s);
  CHECK_FALSE(parse_order_state("Success"));
}
