#include "roles/updater/key_window.hpp"

#include <algorithm>

namespace pokeflow::roles::updater {

key_window::key_window(std::size_t capacity, std::size_t max_running) noexcept
    : capacity_(std::max<std::size_t>(capacity, 1)), max_running_(std::max<std::size_t>(max_running, 1)) {}

std::size_t key_window::room() const noexcept { return live_.size() < capacity_ ? capacity_ - live_.size() : 0; }

key_window::seq_t key_window::admit(const core::kafka::topic_partition& tp, std::int64_t offset,
                                    const std::string& key) {
  const seq_t seq = next_seq_++;
  // The partition is part of the chain's name: Kafka orders a key only within its partition.
  std::string chain = tp.topic + '\0' + std::to_string(tp.partition) + '\0' + key;
  partitions_[tp].push_back({seq, offset});
  auto& c = chains_[chain];
  c.push_back(seq);
  if (c.size() == 1) ready_.push_back(seq);
  live_.emplace(seq, meta{tp, std::move(chain)});
  return seq;
}

std::vector<key_window::seq_t> key_window::startable() {
  std::vector<seq_t> out;
  while (!ready_.empty() && started_.size() < max_running_) {
    out.push_back(ready_.front());
    started_.insert(ready_.front());
    ready_.pop_front();
  }
  return out;
}

void key_window::finish(seq_t seq, bool done) {
  started_.erase(seq);
  auto it = live_.find(seq);
  if (it == live_.end() || !done) return;
  auto& entries = partitions_[it->second.tp];
  // Tickets grow with admission, and a partition's entries are admitted in order.
  auto e = std::lower_bound(entries.begin(), entries.end(), seq, [](const entry& x, seq_t s) { return x.seq < s; });
  if (e != entries.end() && e->seq == seq) e->done = true;
  auto c = chains_.find(it->second.chain);
  if (c == chains_.end()) return;
  std::erase(c->second, seq);
  if (c->second.empty()) chains_.erase(c);
  else ready_.push_back(c->second.front());
}

std::vector<core::kafka::commit_offset> key_window::release_prefix() {
  std::vector<core::kafka::commit_offset> out;
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    auto& entries = it->second;
    std::vector<core::kafka::handled_message> handled;
    for (const auto& e : entries) {
      if (!e.done) {
        handled.push_back({it->first, e.offset, false});
        break;  // nothing after the first unfinished one can be committed
      }
      handled.push_back({it->first, e.offset, true});
    }
    auto plan = core::kafka::acknowledged_prefix(handled, {});
    if (!plan.empty()) {
      while (!entries.empty() && entries.front().done && entries.front().offset < plan.front().next_offset) {
        live_.erase(entries.front().seq);
        entries.pop_front();
      }
      out.push_back(plan.front());
    }
    if (entries.empty()) it = partitions_.erase(it);
    else ++it;
  }
  return out;
}

std::vector<key_window::seq_t> key_window::forget(std::span<const core::kafka::topic_partition> partitions) {
  std::vector<seq_t> never_started;
  std::set<seq_t> dropped;
  for (const auto& tp : partitions) {
    auto p = partitions_.find(tp);
    if (p == partitions_.end()) continue;
    for (const auto& e : p->second) {
      dropped.insert(e.seq);
      if (!e.done && !started_.count(e.seq)) never_started.push_back(e.seq);
      auto m = live_.find(e.seq);
      if (m != live_.end()) {
        chains_.erase(m->second.chain);
        live_.erase(m);
      }
    }
    partitions_.erase(p);
  }
  std::erase_if(ready_, [&](seq_t s) { return dropped.count(s) > 0; });
  return never_started;
}

}  // namespace pokeflow::roles::updater
