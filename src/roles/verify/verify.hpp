#pragma once
// `pokeflow verify`: the "nothing lost" check. Reads the loadgen ledger (or takes the orders
// created in a time window) and checks them against PostgreSQL with a few set-based queries:
// every acknowledged order exists with the fields sent, left pending within the deadline,
// got the decision the fraud rules give (or `reversed` after pending at least T), and never
// changed state again (poke_order_transitions). Exit 0: no violation; 1: violations; 2: usage
// or connection error.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "pokeflow/config.hpp"

namespace pokeflow::roles::verify {

struct report {
  std::string mode;    // "ledger" or "window"
  std::string source;  // ledger path or "since..until"
  std::uint64_t acknowledged = 0;  // distinct orders checked
  std::uint64_t terminal = 0;
  std::map<std::string, std::uint64_t> by_state;  // current state of the orders that exist
  std::uint64_t lost = 0;
  std::uint64_t corrupted = 0;
  std::uint64_t stuck_pending = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t wrong_decision = 0;
  std::uint64_t flipped = 0;
  std::int64_t redeliveries = 0;  // sum over the orders (schema v2 column; 0 before)
  std::int64_t conflicts = 0;
  std::uint64_t ledger_duplicates = 0;   // ledger lines repeating an order id (checked once)
  bool ledger_truncated_tail = false;    // an unterminated last ledger line was ignored
  // create -> first terminal state, from database timestamps, in milliseconds
  std::uint64_t finalized = 0;
  double finalize_p50_ms = 0, finalize_p90_ms = 0, finalize_p99_ms = 0, finalize_max_ms = 0;
  std::map<std::string, std::vector<std::int64_t>> samples;  // up to 10 order ids per problem
  std::int64_t deadline_ms = 0;
  std::int64_t pending_timeout_ms = 0;
  double elapsed_ms = 0;
  int rounds = 1;  // checks run (more than 1 with --wait)

  // lost + corrupted + stuck_pending + wrong_decision + flipped (an order may count twice).
  std::uint64_t violations() const noexcept {
    return lost + corrupted + stuck_pending + wrong_decision + flipped;
  }
  bool ok() const noexcept { return violations() == 0; }
};

// A usage or connection problem (exit code 2); the message is one line for the user.
struct setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs the check (re-checking while orders are pending, up to args.wait). Throws
// setup_error on a bad ledger, bad window, unreadable rules file, missing schema or when
// PostgreSQL cannot be reached.
report check(const app_config& cfg, const verify_config& args);

std::string to_table(const report& r);
// One JSON object on one line (counts as listed in the report, plus "violations" and "ok").
std::string to_json(const report& r);

// check(), then the table on stderr, the JSON on stdout and in args.json. Returns the exit
// code: 0 no violation, 1 violations, 2 usage or connection error.
int run(const app_config& cfg, const verify_config& args);

}  // namespace pokeflow::roles::verify
