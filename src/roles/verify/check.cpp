#include "roles/verify/check.hpp"

#include <cmath>

#include "core/fraud_rules.hpp"

namespace pokeflow::roles::verify {

verdict classify(const expected_order& e, const std::optional<stored_order>& stored,
                 const std::vector<transition>& transitions, const check_params& p) {
  verdict v;
  if (!stored) {
    v.lost = true;
    return v;
  }
  const auto& s = *stored;
  if ((e.user_id && *e.user_id != s.o.user_id) || (e.pokemon && *e.pokemon != s.o.pokemon) ||
      (e.country && *e.country != s.o.country) || (e.price && std::fabs(*e.price - s.o.price) >= 0.005))
    v.corrupted = true;

  // The trigger records only real changes, so any row after the first, or any row leaving
  // a terminal state, is a flip.
  int from_terminal = 0;
  for (const auto& t : transitions)
    if (is_terminal(t.from)) ++from_terminal;
  v.flipped = transitions.size() > 1 || from_terminal > 0;

  if (!transitions.empty() && transitions.front().from == order_state::pending) {
    v.decided = transitions.front().to;
    v.finalized_us = transitions.front().at_us;
  } else if (transitions.empty() && is_terminal(s.o.state)) {
    // No record (rows from before the trigger existed): trust the row itself.
    v.decided = s.o.state;
    v.finalized_us = s.updated_us;
  }

  if (!v.decided) {
    if (s.o.state == order_state::pending) {
      auto waited_us = p.now_us - e.acked_us;
      if (waited_us > std::chrono::duration_cast<std::chrono::microseconds>(p.deadline).count())
        v.stuck_pending = true;
      else
        v.in_flight = true;
    }
    return v;
  }

  switch (*v.decided) {
    case order_state::success:
    case order_state::rejected:
      v.wrong_decision = core::fraud::decide(s.o, p.rules) != *v.decided;
      break;
    case order_state::reversed: {
      auto pending_us = *v.finalized_us - s.created_us;
      v.wrong_decision = pending_us < std::chrono::duration_cast<std::chrono::microseconds>(p.pending_timeout).count();
      break;
    }
    case order_state::failed:
    case order_state::pending:
      v.wrong_decision = true;
      break;
  }
  return v;
}

}  // namespace pokeflow::roles::verify
