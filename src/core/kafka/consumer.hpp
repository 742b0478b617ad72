#pragma once
// Group consumer for Asio coroutines: batches via co_await, explicit async commits, per-partition
// rebalance notifications, lag. Everything runs on the io_context thread; the
// consumer queue's wake-up fd tells Asio when librdkafka has something.
//
// Offsets: enable.auto.commit=false and enable.auto.offset.store=false, so nothing is committed
// unless the caller commits it. Assignment strategy: "range" (eager). Eager revokes everything on
// a rebalance, which is simple to reason about (drop all in-flight work, re-read from committed
// offsets) and avoids the cooperative-sticky corner cases librdkafka 2.0.x still had. A user may
// set partition.assignment.strategy=cooperative-sticky through the pass-through properties; the
// rebalance handling supports both protocols.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/kafka/commit_plan.hpp"
#include "core/kafka/types.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::core::kafka {

struct consumer_options {
  std::string group_id;  // required
  std::string client_id = "pokeflow";
  std::chrono::milliseconds session_timeout{10000};
  std::chrono::milliseconds max_poll_interval{300000};
  // Prefetch caps (queued.max.messages.kbytes, fetch.max.bytes) for the RSS target.
  int queued_max_kbytes = 8 * 1024;
  int fetch_max_bytes = 4 * 1024 * 1024;
  bool quiet = false;
};

struct rebalance_event {
  enum class kind { assigned, revoked, lost };
  kind what;
  std::vector<topic_partition> partitions;
};

class consumer {
 public:
  // Throws std::invalid_argument (bad property or empty group id) or std::runtime_error.
  consumer(boost::asio::io_context& io, const kafka_config& cfg, consumer_options opts);
  ~consumer();
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  // Throws kafka_exception if the subscription is rejected locally.
  void subscribe(const std::vector<std::string>& topics);

  // Called on the io thread, inside next_batch(), before librdkafka applies the change. On
  // revoked/lost the caller must drop in-flight work for those partitions: commits for them are
  // refused from now on.
  void on_rebalance(std::function<void(const rebalance_event&)> fn);

  // Up to max messages; waits at most timeout for the first one (empty vector on timeout).
  // Also serves rebalances and errors, so call it at least every max_poll_interval.
  // One next_batch at a time per consumer. Throws kafka_exception once librdkafka raised a
  // fatal error (e.g. a fenced static member): the instance is unusable, the process must restart.
  boost::asio::awaitable<std::vector<message>> next_batch(std::size_t max,
                                                          std::chrono::milliseconds timeout);

  // Commits next_offset (= last processed offset + 1) for one partition; asynchronous, completes
  // with the broker's answer. Refused (error code _STATE, fatal) for a partition not assigned.
  boost::asio::awaitable<std::optional<kafka_error>> commit(std::string topic, std::int32_t partition,
                                                            std::int64_t next_offset);
  struct offset {
    std::string topic;
    std::int32_t partition;
    std::int64_t next_offset;
  };
  boost::asio::awaitable<std::optional<kafka_error>> commit(std::vector<offset> offsets);

  std::vector<topic_partition> assignment() const;
  // Per assigned partition: cached high watermark - current position (no broker round trip).
  std::vector<partition_lag> lag() const;

  // nullopt if a broker answers a metadata request within timeout, else a one-line reason.
  boost::asio::awaitable<std::optional<std::string>> ping(std::chrono::milliseconds timeout =
                                                              std::chrono::milliseconds(3000));

  // Leaves the group (revokes through the hook, commits nothing) without blocking the io thread;
  // gives up after timeout. Idempotent. Call before destruction for a clean leave.
  boost::asio::awaitable<void> close(std::chrono::milliseconds timeout);

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

// Commits what `pacer` has waiting when it is due (or anything waiting when `now_anyway`: a
// clean stop). A failed commit puts the offsets back, so the next one carries them, and is
// returned for the caller to log; nothing is committed twice needlessly.
boost::asio::awaitable<std::optional<kafka_error>> commit_paced(consumer& c, commit_pacer& pacer, bool now_anyway);

}  // namespace pokeflow::core::kafka
