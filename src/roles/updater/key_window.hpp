#pragma once
// The updater's scheduling decision, kept pure (no Asio, no Kafka client): which consumed
// decisions may be applied now, and which offsets are finished.
//
// Messages are applied by key (the order id), not by partition: messages of different orders
// in one partition run concurrently, up to `max_running` at once, while a key's messages run
// one after another in offset order (a later decision for an order never overtakes an earlier
// one). At most `capacity` messages are tracked between consumption and commit, which bounds
// memory and what a crash re-delivers when one slow message holds a partition's committed
// offset back. The committed offset is each partition's contiguous finished prefix
// (core::kafka::acknowledged_prefix).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/kafka/commit_plan.hpp"
#include "core/kafka/types.hpp"

namespace pokeflow::roles::updater {

class key_window {
 public:
  using seq_t = std::uint64_t;  // a tracked message's ticket, unique for this instance's life
  key_window(std::size_t capacity, std::size_t max_running) noexcept;

  // Messages that may still be admitted (capacity - tracked).
  std::size_t room() const noexcept;
  std::size_t tracked() const noexcept { return live_.size(); }
  std::size_t running() const noexcept { return started_.size(); }

  // Tracks one consumed message; a partition's messages must be admitted in offset order. The
  // key is the message key (the order id); keyless messages share one key per partition, so
  // they keep partition order. Returns its ticket; whether it may start is told by startable().
  seq_t admit(const core::kafka::topic_partition& tp, std::int64_t offset, const std::string& key);

  // Tickets that may start now (their key's earlier messages finished, a running slot free),
  // counted as running from here on. Call after admit() and finish().
  std::vector<seq_t> startable();

  // A started message ended. done: applied or dead-lettered (the commit may pass it, and its
  // key's next message may start). Not done (stopping): it and its key's later messages stay
  // unfinished, so the committed offset never passes them. Unknown tickets (forgotten with
  // their partition) only free their running slot.
  void finish(seq_t seq, bool done);

  // Each partition's contiguous finished prefix since the last call, as offsets to commit;
  // those messages stop being tracked (their room is free again).
  std::vector<core::kafka::commit_offset> release_prefix();

  // The partitions were revoked or lost: drop their messages (a new owner re-reads them from
  // the committed offset). Returns the dropped tickets that never started (the caller frees
  // them); dropped running ones come back through finish() and are ignored.
  std::vector<seq_t> forget(std::span<const core::kafka::topic_partition> partitions);

 private:
  struct entry {
    seq_t seq;
    std::int64_t offset;
    bool done = false;
  };
  struct meta {
    core::kafka::topic_partition tp;
    std::string chain;  // chains_ key
  };
  std::size_t capacity_;
  std::size_t max_running_;
  seq_t next_seq_ = 1;
  std::map<core::kafka::topic_partition, std::deque<entry>> partitions_;  // in offset order
  std::map<seq_t, meta> live_;
  std::map<std::string, std::deque<seq_t>> chains_;  // per key; the front is the one allowed to run
  std::deque<seq_t> ready_;                          // fronts of chains waiting for a slot
  std::set<seq_t> started_;
};

}  // namespace pokeflow::roles::updater
