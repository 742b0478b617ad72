#include <catch2/catch.hpp>

#include "roles/verify/check.hpp"

using namespace pokeflow;
using namespace pokeflow::roles::verify;
using namespace std::chrono_literals;

namespace {
constexpr std::int64_t s = 1'000'000;  // one second in microseconds
constexpr std::int64_t t0 = 1'700'000'000 * s;

expected_order ledger(std::int64_t id, std::int64_t user, std::string pokemon, double price) {
  return {id, user, pokemon, "Chile", price, t0 + s / 100};
}

stored_order row(std::int64_t id, std::int64_t user, std::string pokemon, double price, order_state st) {
  stored_order o;
  o.o = order{id, user, pokemon, "Chile", price, st, ""};
  o.created_us = t0;
  o.updated_us = t0;
  return o;
}

check_params params(std::int64_t now) {
  check_params p;  // the seed's rules: price > 200, user 5, names starting d/f/a
  p.pending_timeout = 30s;
  p.deadline = 60s;
  p.now_us = now;
  return p;
}
}  // namespace

TEST_CASE("verify: a correctly decided order is fine") {
  auto e = ledger(1, 1, "Pikachu", 10.5);
  auto v = classify(e, row(1, 1, "Pikachu", 10.5, order_state::success),
                    {{order_state::pending, order_state::success, t0 + s / 10}}, params(t0 + 5 * s));
  REQUIRE_FALSE(v.violation());
  REQUIRE_FALSE(v.in_flight);
  REQUIRE(v.decided == order_state::success);
  REQUIRE(v.finalized_us == t0 + s / 10);
  // The seed's rejections: user 5, a blocked prefix, a high price.
  for (auto [user, name, price] : {std::tuple{5, "Pikachu", 1.0}, {1, "Ditto", 1.0}, {1, "Pikachu", 200.01}}) {
    auto r = classify(ledger(2, user, name, price), row(2, user, name, price, order_state::rejected),
                      {{order_state::pending, order_state::rejected, t0 + s}}, params(t0 + 5 * s));
    REQUIRE_FALSE(r.violation());
  }
  // 200 exactly is not above the limit.
  auto r = classify(ledger(3, 1, "Pikachu", 200.0), row(3, 1, "Pikachu", 200.0, order_state::success),
                    {{order_state::pending, order_state::success, t0 + s}}, params(t0 + 5 * s));
  REQUIRE_FALSE(r.violation());
}

TEST_CASE("verify: missing order is lost") {
  auto v = classify(ledger(1, 1, "Pikachu", 1), std::nullopt, {}, params(t0));
  REQUIRE(v.lost);
  REQUIRE(v.violation());
}

TEST_CASE("verify: stored fields differing from the ledger are corrupted") {
  auto e = ledger(1, 1, "Pikachu", 10.5);
  std::vector<transition> tr{{order_state::pending, order_state::success, t0 + s}};
  REQUIRE(classify(e, row(1, 1, "Raichu", 10.5, order_state::success), tr, params(t0 + s)).corrupted);
  REQUIRE(classify(e, row(1, 2, "Pikachu", 10.5, order_state::success), tr, params(t0 + s)).corrupted);
  REQUIRE(classify(e, row(1, 1, "Pikachu", 10.51, order_state::success), tr, params(t0 + s)).corrupted);
  auto c = row(1, 1, "Pikachu", 10.5, order_state::success);
  c.o.country = "Peru";
  REQUIRE(classify(e, c, tr, params(t0 + s)).corrupted);
  // Window mode has no ledger fields to compare.
  expected_order w{1, {}, {}, {}, {}, t0};
  REQUIRE_FALSE(classify(w, row(1, 1, "Raichu", 10.5, order_state::success), tr, params(t0 + s)).violation());
}

TEST_CASE("verify: pending within the deadline is in flight, beyond it stuck") {
  auto e = ledger(1, 1, "Pikachu", 10);
  auto stored = row(1, 1, "Pikachu", 10, order_state::pending);
  auto v = classify(e, stored, {}, params(e.acked_us + 59 * s));
  REQUIRE(v.in_flight);
  REQUIRE_FALSE(v.violation());
  v = classify(e, stored, {}, params(e.acked_us + 61 * s));
  REQUIRE(v.stuck_pending);
  REQUIRE_FALSE(v.in_flight);
  REQUIRE(v.violation());
}

TEST_CASE("verify: the decision must follow the rules") {
  std::vector<transition> to_success{{order_state::pending, order_state::success, t0 + s}};
  std::vector<transition> to_rejected{{order_state::pending, order_state::rejected, t0 + s}};
  // user 5 is always rejected
  REQUIRE(classify(ledger(1, 5, "Pikachu", 1), row(1, 5, "Pikachu", 1, order_state::success), to_success,
                   params(t0 + 2 * s))
              .wrong_decision);
  REQUIRE(classify(ledger(1, 1, "Pikachu", 1), row(1, 1, "Pikachu", 1, order_state::rejected), to_rejected,
                   params(t0 + 2 * s))
              .wrong_decision);
  // failed is never right
  REQUIRE(classify(ledger(1, 1, "Pikachu", 1), row(1, 1, "Pikachu", 1, order_state::failed),
                   {{order_state::pending, order_state::failed, t0 + s}}, params(t0 + 2 * s))
              .wrong_decision);
  // Custom rules are honoured.
  auto p = params(t0 + 2 * s);
  p.rules.max_price = 5;
  REQUIRE_FALSE(classify(ledger(1, 1, "Pikachu", 6), row(1, 1, "Pikachu", 6, order_state::rejected), to_rejected, p)
                    .violation());
}

TEST_CASE("verify: reversed is right only after pending at least T") {
  auto e = ledger(1, 1, "Pikachu", 1);
  auto stored = row(1, 1, "Pikachu", 1, order_state::reversed);
  auto late = classify(e, stored, {{order_state::pending, order_state::reversed, t0 + 31 * s}}, params(t0 + 40 * s));
  REQUIRE_FALSE(late.violation());
  auto exact = classify(e, stored, {{order_state::pending, order_state::reversed, t0 + 30 * s}}, params(t0 + 40 * s));
  REQUIRE_FALSE(exact.violation());
  auto early = classify(e, stored, {{order_state::pending, order_state::reversed, t0 + 29 * s}}, params(t0 + 40 * s));
  REQUIRE(early.wrong_decision);
  // A decision that arrives after T is still judged by the rules, not required to be reversed.
  auto slow = classify(e, row(1, 1, "Pikachu", 1, order_state::success),
                       {{order_state::pending, order_state::success, t0 + 3600 * s}}, params(t0 + 3700 * s));
  REQUIRE_FALSE(slow.violation());
}

TEST_CASE("verify: a second state change or one out of a terminal state is a flip") {
  auto e = ledger(1, 1, "Pikachu", 1);
  // success (right) then flipped by hand to reversed: flipped, not also a wrong decision
  auto v = classify(e, row(1, 1, "Pikachu", 1, order_state::reversed),
                    {{order_state::pending, order_state::success, t0 + s},
                     {order_state::success, order_state::reversed, t0 + 2 * s}},
                    params(t0 + 3 * s));
  REQUIRE(v.flipped);
  REQUIRE_FALSE(v.wrong_decision);
  REQUIRE(v.decided == order_state::success);
  // back to pending by hand
  v = classify(e, row(1, 1, "Pikachu", 1, order_state::pending),
               {{order_state::pending, order_state::success, t0 + s},
                {order_state::success, order_state::pending, t0 + 2 * s}},
               params(t0 + 3 * s));
  REQUIRE(v.flipped);
  REQUIRE_FALSE(v.stuck_pending);
  // a row recorded out of a terminal state alone (history cut) still counts
  v = classify(e, row(1, 1, "Pikachu", 1, order_state::rejected),
               {{order_state::success, order_state::rejected, t0 + 2 * s}}, params(t0 + 3 * s));
  REQUIRE(v.flipped);
}

TEST_CASE("verify: a terminal row without recorded transitions is judged on the row") {
  auto stored = row(1, 1, "Pikachu", 1, order_state::success);
  stored.updated_us = t0 + s;
  auto v = classify(ledger(1, 1, "Pikachu", 1), stored, {}, params(t0 + 2 * s));
  REQUIRE_FALSE(v.violation());
  REQUIRE(v.finalized_us == t0 + s);
}
