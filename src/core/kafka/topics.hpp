#pragma once
// `pokeflow topics init|grow|fix|describe|delete`: the seed's kafka-topics workflow on the three
// pipeline topics (names from kafka_config: orders_topic, states_topic, dlq_topic).
#include <chrono>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "pokeflow/config.hpp"

namespace pokeflow::core::kafka {

struct topics_options {
  // init: "seed" = orders 3 partitions / replication 1 / min.insync 1 (the seed's fragile start),
  // states and dlq 3 / 3 / 2; "safe" = all 3 / 3 / 2.
  std::string profile = "seed";
  // init: partitions of each created topic (the seed's 3); grow: the new total for every
  // pipeline topic. Growing moves keys to other partitions: docs/decisions.md says why an
  // order's messages are still applied correctly.
  int partitions = 3;
  bool groups = false;  // describe: also lag of each group below
  std::vector<std::string> group_names{"poke-order-consumer", "order-updater"};
  // Bound for each cluster request; an unreachable cluster fails after about this long.
  std::chrono::milliseconds timeout{10000};
  // fix: how long to wait for the new replicas to join the ISR.
  std::chrono::milliseconds fix_timeout{300000};
};

// Runs one verb, printing a report to out and one-line errors to err. Never throws.
// Exit codes: 0 done (also when nothing needed doing), 1 cluster/operation failure,
// 2 bad verb, profile, partition count or configuration.
//
// grow raises every pipeline topic below opts.partitions to it (CreatePartitions); topics
// already there are left alone (exit 0, so a hook can run it on every upgrade); a topic absent
// or with more partitions than asked (Kafka never removes partitions) fails with exit 1 before
// anything is changed.
//
// fix raises every pipeline topic below replication 3 to 3 in place (data kept): it sends a
// hand-encoded AlterPartitionReassignments (API 45) over a plain TCP connection (brokers forward
// it to the KRaft controller), polls metadata and ListPartitionReassignments (API 46) until all
// new replicas are in the ISR, then sets min.insync.replicas=2. That raw client speaks PLAINTEXT
// only: with security.protocol/sasl.*/ssl.* properties set it refuses (exit 1) and says so.
int run_topics_command(const kafka_config& cfg, std::string_view verb, const topics_options& opts,
                       std::ostream& out, std::ostream& err);
int run_topics_command(const kafka_config& cfg, std::string_view verb, const topics_options& opts);

}  // namespace pokeflow::core::kafka
