#include "core/kafka/commit_plan.hpp"

#include <algorithm>

namespace pokeflow::core::kafka {

std::vector<commit_offset> acknowledged_prefix(std::span<const handled_message> batch,
                                               const std::set<topic_partition>& revoked) {
  std::map<topic_partition, std::int64_t> next;
  std::set<topic_partition> blocked;
  for (const auto& m : batch) {
    if (blocked.count(m.tp) || revoked.count(m.tp)) continue;
    if (!m.acknowledged) {
      blocked.insert(m.tp);
      continue;
    }
    auto [it, fresh] = next.emplace(m.tp, m.offset + 1);
    if (!fresh) it->second = std::max(it->second, m.offset + 1);
  }
  std::vector<commit_offset> out;
  out.reserve(next.size());
  for (const auto& [tp, off] : next) out.push_back({tp, off});
  return out;
}

void commit_pacer::record(std::span<const commit_offset> plan, std::size_t messages, clock::time_point now) {
  if (plan.empty()) return;
  if (next_.empty()) oldest_ = now;
  for (const auto& c : plan) {
    auto [it, fresh] = next_.emplace(c.tp, c.next_offset);
    if (!fresh) it->second = std::max(it->second, c.next_offset);
  }
  messages_ += messages;
}

void commit_pacer::forget(std::span<const topic_partition> partitions) {
  for (const auto& tp : partitions) next_.erase(tp);
  if (next_.empty()) messages_ = 0;
}

bool commit_pacer::due(clock::time_point now) const noexcept {
  if (next_.empty()) return false;
  return messages_ >= every_ || now - oldest_ >= interval_;
}

std::vector<commit_offset> commit_pacer::take() {
  std::vector<commit_offset> out;
  out.reserve(next_.size());
  for (const auto& [tp, off] : next_) out.push_back({tp, off});
  next_.clear();
  messages_ = 0;
  return out;
}

}  // namespace pokeflow::core::kafka
