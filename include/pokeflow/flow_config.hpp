#pragma once
// How the Kafka clients group their work (the throughput knobs of docs/decisions.md, "Offsets
// are committed on an interval" and "The updater orders by key"). Filled only by
// src/core/cli.cpp like every config struct; handed to the api (linger), fraud (linger, commits)
// and the updater (all of it).
#include <chrono>

namespace pokeflow {

struct flow_config {
  // Producers wait this long for more messages before sending a request (librdkafka
  // linger.ms): under load a produce request carries many messages.
  std::chrono::milliseconds linger{5};
  // Consumers (fraud, updater) commit finished offsets when the oldest uncommitted progress
  // is this old or this many messages finished, not after every small batch; a crash
  // re-delivers at most that much (absorbed idempotently). 0 commits after every batch.
  std::chrono::milliseconds commit_interval{500};
  int commit_every = 1000;
  // Updater: decisions applied (PUTs in flight) at once; messages of one order stay in order.
  int updater_concurrency = 16;
  // Updater: messages consumed ahead and tracked until committed; bounds memory and what a
  // crash re-delivers when one slow decision holds the committed offset back.
  int updater_window = 1000;
};

}  // namespace pokeflow
