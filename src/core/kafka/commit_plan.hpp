#pragma once
// Which offsets a consumer may commit, and when: the at-least-once decisions of the fraud and
// updater loops, kept pure (no librdkafka, no Asio) so their edge cases are unit-tested.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <vector>

#include "core/kafka/types.hpp"

namespace pokeflow::core::kafka {

// One consumed message and whether the work it asks for is finished (fraud: its decision or
// dead letter acknowledged by the brokers; updater: its decision applied or dead-lettered).
struct handled_message {
  topic_partition tp;
  std::int64_t offset = 0;
  bool acknowledged = false;
};

struct commit_offset {
  topic_partition tp;
  std::int64_t next_offset = 0;  // last finished offset + 1
  friend bool operator==(const commit_offset&, const commit_offset&) = default;
};

// Per partition, in consumption order, the prefix of finished messages up to the first one
// that is not: its next offset is committed, nothing after it (a crash re-delivers the rest and
// they are handled again, idempotently). Partitions revoked since the messages were fetched are
// skipped (the new owner re-reads them). Offsets need not be contiguous (compaction, markers),
// and a repeated offset never moves a commit backwards. Sorted by partition; empty if nothing
// to commit.
std::vector<commit_offset> acknowledged_prefix(std::span<const handled_message> batch,
                                               const std::set<topic_partition>& revoked);

// Finished offsets not committed yet. Instead of one OffsetCommit (a write replicated three
// ways in __consumer_offsets) per small batch, progress is committed when the oldest
// uncommitted progress is `interval` old or `every` messages have finished since the last
// commit. What a crash re-delivers is at most that much, and the roles absorb it: fraud
// re-decides identically, the updater's guarded transitions answer a repeat with 200/409.
// interval 0 commits after every batch (the old behaviour).
class commit_pacer {
 public:
  using clock = std::chrono::steady_clock;
  commit_pacer(std::chrono::milliseconds interval, std::size_t every) noexcept
      : interval_(interval), every_(every < 1 ? 1 : every) {}

  // Adds progress (`messages` finished, committing up to `plan`); an offset never moves back.
  void record(std::span<const commit_offset> plan, std::size_t messages, clock::time_point now);
  // Drops progress of partitions this consumer no longer owns (a commit for them is refused).
  void forget(std::span<const topic_partition> partitions);
  // Progress is waiting and it is old enough or large enough to commit now.
  bool due(clock::time_point now) const noexcept;
  // Everything waiting (sorted by partition), cleared. If the commit then fails, record it
  // again: the next commit carries it.
  std::vector<commit_offset> take();
  bool empty() const noexcept { return next_.empty(); }

 private:
  std::chrono::milliseconds interval_;
  std::size_t every_;
  std::map<topic_partition, std::int64_t> next_;
  std::size_t messages_ = 0;
  clock::time_point oldest_{};
};

}  // namespace pokeflow::core::kafka
