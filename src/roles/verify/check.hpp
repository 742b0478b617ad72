#pragma once
// verify's rules for one order, pure: what the ledger promised, what PostgreSQL holds and
// the recorded state changes in, a verdict out. verify.cpp gathers the inputs for all
// orders with a few set-based queries and runs this on each.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pokeflow/config.hpp"
#include "pokeflow/order.hpp"

namespace pokeflow::roles::verify {

// What the client was told was stored (a ledger row). In window mode there is no ledger:
// fields are absent and acked_us is the order's creation time.
struct expected_order {
  std::int64_t id = 0;
  std::optional<std::int64_t> user_id;
  std::optional<std::string> pokemon;
  std::optional<std::string> country;
  std::optional<double> price;
  std::int64_t acked_us = 0;  // epoch microseconds
};

// The poke_orders row.
struct stored_order {
  order o;                  // id, user_id, pokemon, country, price, state
  std::int64_t created_us = 0;  // "timestamp"
  std::int64_t updated_us = 0;  // updated_at (time of the terminal transition)
  std::int64_t redeliveries = 0;
  std::int64_t conflicts = 0;
};

// One poke_order_transitions row.
struct transition {
  order_state from = order_state::pending;
  order_state to = order_state::pending;
  std::int64_t at_us = 0;
};

struct check_params {
  fraud_rules rules;
  std::chrono::milliseconds pending_timeout{30 * 60 * 1000};  // T of the reverser
  std::chrono::milliseconds deadline{60000};                  // ack -> terminal
  std::int64_t now_us = 0;
};

struct verdict {
  bool lost = false;            // acknowledged but not in poke_orders
  bool corrupted = false;       // stored fields differ from the ledger's
  bool stuck_pending = false;   // still pending past the deadline
  bool in_flight = false;       // still pending within the deadline (not a violation)
  bool wrong_decision = false;  // first terminal state differs from the rules (or an early reversal, or failed)
  bool flipped = false;         // changed state more than once, or left a terminal state
  std::optional<order_state> decided;  // the first terminal state reached
  std::optional<std::int64_t> finalized_us;  // when it left pending
  bool violation() const noexcept { return lost || corrupted || stuck_pending || wrong_decision || flipped; }
};

// Judges one order. `transitions` are that order's rows in time order (may be empty).
// The decision is judged on the first terminal state it reached, so a later hand-made
// flip counts as flipped only, not also as a wrong decision.
verdict classify(const expected_order& expected, const std::optional<stored_order>& stored,
                 const std::vector<transition>& transitions, const check_params& p);

}  // namespace pokeflow::roles::verify
