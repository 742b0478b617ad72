#pragma once
// Kafka admin client for Asio coroutines: topics, configs, cluster metadata, groups and lag.
// Admin requests complete through a queue wake-up fd; the few blocking librdkafka calls
// (metadata, watermark queries) run on a private worker thread.
// Request-level failures throw kafka_exception; per-item outcomes are returned.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/kafka/types.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::core::kafka {

struct admin_options {
  std::string client_id = "pokeflow-admin";
  std::chrono::milliseconds request_timeout{10000};
  bool quiet = false;  // drop librdkafka's own log lines (CLI tools)
};

struct new_topic {
  std::string name;
  int partitions = 1;
  int replication = 1;
  std::map<std::string, std::string> configs;
};

// Outcome for one named item (topic, group): error code 0 = done.
struct item_result {
  std::string name;
  std::optional<kafka_error> error;
};

struct config_entry {
  std::string value;
  bool is_default = false;
  bool read_only = false;
  bool sensitive = false;
  bool dynamic_topic = false;  // set on the topic itself (what AlterConfigs replaces)
};

struct group_listing {
  std::string group;
  std::string state;  // "Stable", "Empty", ...
};

class admin {
 public:
  // Throws std::invalid_argument naming a bad property, std::runtime_error otherwise.
  admin(boost::asio::io_context& io, const kafka_config& cfg, admin_options opts = {});
  ~admin();
  admin(const admin&) = delete;
  admin& operator=(const admin&) = delete;

  // nullopt if a broker answers a metadata request within timeout, else a one-line reason
  // ("no Kafka broker reachable at ... (...)").
  boost::asio::awaitable<std::optional<std::string>> ping(std::chrono::milliseconds timeout =
                                                              std::chrono::milliseconds(3000));

  // Brokers and all topics with per-partition leader/replicas/ISR.
  boost::asio::awaitable<cluster_metadata> describe_cluster();

  // TOPIC_ALREADY_EXISTS / UNKNOWN_TOPIC_OR_PART come back per item, not as exceptions.
  boost::asio::awaitable<std::vector<item_result>> create_topics(std::vector<new_topic> topics);
  boost::asio::awaitable<std::vector<item_result>> delete_topics(std::vector<std::string> topics);
  // CreatePartitions: raises each named topic to the given total partition count (Kafka never
  // removes partitions). INVALID_PARTITIONS / UNKNOWN_TOPIC_OR_PART come back per item.
  boost::asio::awaitable<std::vector<item_result>> create_partitions(std::vector<std::pair<std::string, int>> totals);

  boost::asio::awaitable<std::map<std::string, config_entry>> describe_topic_config(std::string topic);
  // Sets the given keys on a topic. librdkafka 2.0.2 only has the non-incremental AlterConfigs,
  // which replaces the topic's whole dynamic config: the current dynamic entries are read first
  // and sent along, so nothing else is wiped.
  boost::asio::awaitable<void> alter_topic_config(std::string topic,
                                                  std::map<std::string, std::string> changes);

  boost::asio::awaitable<std::vector<group_listing>> list_groups();
  // Committed offsets of a group (ListConsumerGroupOffsets); offset -1 = none committed.
  boost::asio::awaitable<std::vector<partition_lag>> group_offsets(std::string group);
  // group_offsets + each partition's high watermark: lag = high watermark - committed
  // (no commit yet: high watermark - low watermark).
  boost::asio::awaitable<std::vector<partition_lag>> group_lag(std::string group);
  boost::asio::awaitable<std::optional<kafka_error>> delete_group(std::string group);

  // Low and high watermark of one partition (asks the leader).
  boost::asio::awaitable<std::pair<std::int64_t, std::int64_t>> watermarks(std::string topic,
                                                                          std::int32_t partition);

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::core::kafka
