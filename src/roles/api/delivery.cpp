#include "roles/api/delivery.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace pokeflow::roles::api {

batch_mapping map_batch_rows(std::span<const std::int64_t> ordinals, std::size_t requests,
                             bool absence_is_an_answer) {
  batch_mapping out;
  out.row_of.assign(requests, std::nullopt);
  std::vector<int> times_named(requests, 0);
  for (std::size_t row = 0; row < ordinals.size(); ++row) {
    auto ord = ordinals[row];
    if (ord < 1 || static_cast<std::size_t>(ord) > requests) {
      out.problems.push_back("row " + std::to_string(row) + " names ordinal " + std::to_string(ord) +
                             ", outside 1.." + std::to_string(requests));
      continue;
    }
    auto req = static_cast<std::size_t>(ord - 1);
    if (++times_named[req] == 1) out.row_of[req] = static_cast<int>(row);
  }
  for (std::size_t req = 0; req < requests; ++req) {
    if (times_named[req] == 0) {
      if (absence_is_an_answer) continue;
      out.problems.push_back("no row for ordinal " + std::to_string(req + 1));
    } else if (times_named[req] > 1) {
      out.row_of[req].reset();
      out.problems.push_back("ordinal " + std::to_string(req + 1) + " named by " + std::to_string(times_named[req]) +
                             " rows");
    }
  }
  return out;
}

std::vector<std::size_t> pick_distinct(std::span<const std::int64_t> queued_ids, const std::set<std::int64_t>& busy,
                                       std::size_t max) {
  std::vector<std::size_t> out;
  std::set<std::int64_t> taken;
  for (std::size_t i = 0; i < queued_ids.size() && out.size() < max; ++i) {
    auto id = queued_ids[i];
    if (busy.count(id) || !taken.insert(id).second) continue;
    out.push_back(i);
  }
  return out;
}

transition_verdict judge_transition(bool found, bool applied, order_state current, order_state target) noexcept {
  if (!found) return transition_verdict::not_found;
  if (applied) return transition_verdict::applied;
  switch (check_transition(current, target)) {
    case transition_outcome::applied:
      return transition_verdict::stale;  // read pending, yet the guarded UPDATE did not move it
    case transition_outcome::unchanged:
      return current == order_state::pending ? transition_verdict::stale : transition_verdict::unchanged;
    case transition_outcome::conflict:
      return transition_verdict::conflict;
  }
  return transition_verdict::stale;
}

bool retry_one_by_one(core::pg::error_kind failure, std::size_t batch_size) noexcept {
  if (batch_size < 2) return false;
  switch (failure) {
    case core::pg::error_kind::constraint:
    case core::pg::error_kind::invalid:
    case core::pg::error_kind::other:
      return true;
    case core::pg::error_kind::none:
    case core::pg::error_kind::connection:
    case core::pg::error_kind::shutdown:
    case core::pg::error_kind::timeout:
    case core::pg::error_kind::conflict:
    case core::pg::error_kind::resources:
      return false;
  }
  return false;
}

relay_settlement settle_relay_round(std::span<const std::int64_t> ids, const std::vector<bool>& acknowledged) {
  relay_settlement out;
  std::set<std::int64_t> acked;
  std::set<std::int64_t> all;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    all.insert(ids[i]);
    if (i < acknowledged.size() && acknowledged[i]) acked.insert(ids[i]);
  }
  out.delete_ids.assign(acked.begin(), acked.end());
  out.failed = all.size() - acked.size();
  return out;
}

}  // namespace pokeflow::roles::api
