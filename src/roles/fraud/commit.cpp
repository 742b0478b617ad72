#include "roles/fraud/commit.hpp"

#include <algorithm>
#include <map>

namespace pokeflow::roles::fraud {

std::vector<commit_offset> acknowledged_prefix(std::span<const handled_message> batch,
                                               const std::set<core::kafka::topic_partition>& revoked) {
  std::map<core::kafka::topic_partition, std::int64_t> next;
  std::set<core::kafka::topic_partition> blocked;
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

}  // namespace pokeflow::roles::fraud
