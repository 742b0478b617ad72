#pragma once
// Which offsets fraud may commit after a batch: the at-least-once decision, kept pure.
#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "core/kafka/types.hpp"

namespace pokeflow::roles::fraud {

// One consumed message of a batch and whether its output (decision or dead letter) was
// acknowledged by the brokers.
struct handled_message {
  core::kafka::topic_partition tp;
  std::int64_t offset = 0;
  bool acknowledged = false;
};

struct commit_offset {
  core::kafka::topic_partition tp;
  std::int64_t next_offset = 0;  // last acknowledged offset + 1
  friend bool operator==(const commit_offset&, const commit_offset&) = default;
};

// Per partition, in batch order, the prefix of acknowledged messages up to the first one that
// is not: its next offset is committed, nothing after it (a crash re-delivers the rest and they
// are re-decided identically). Partitions revoked since the batch was fetched are skipped (the
// new owner re-reads them). Offsets need not be contiguous (compaction, markers), and a
// repeated offset never moves a commit backwards. Sorted by partition; empty if nothing to commit.
std::vector<commit_offset> acknowledged_prefix(std::span<const handled_message> batch,
                                               const std::set<core::kafka::topic_partition>& revoked);

}  // namespace pokeflow::roles::fraud
