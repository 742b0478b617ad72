#pragma once
// The loadgen run summary: what was asked, what happened, as a table and as JSON.
#include <cstdint>
#include <map>
#include <string>

#include "roles/loadgen/histogram.hpp"

namespace pokeflow::roles::loadgen {

struct summary {
  std::string model;         // "open" or "closed"
  double target_rate = 0;    // orders/s asked for (open model), 0 for closed
  double elapsed_s = 0;      // first intended send .. last answer
  double send_window_s = 0;  // first .. last intended send
  std::uint64_t planned = 0;
  std::uint64_t sent = 0;
  std::uint64_t acknowledged = 0;  // 201 with an order id
  std::map<std::string, std::uint64_t> errors;  // connect, timeout, http_<status>, bad_response, ...
  histogram latency;  // microseconds, intended send -> 201, acknowledged orders only
  bool stopped_early = false;
  std::string ledger;  // path, empty when none

  std::uint64_t error_count() const noexcept;
  double achieved_rate() const noexcept;  // acknowledged / elapsed_s
  double sent_rate() const noexcept;      // sent / send_window_s
};

// A fixed-width human table (several lines, ends with '\n').
std::string to_table(const summary& s);
// One JSON object on one line: {"model":..,"target_rate":..,"achieved_rate":..,
// "latency_ms":{"p50":..,"p90":..,"p99":..,"p99_9":..,"max":..,"mean":..},"errors":{..},..}.
std::string to_json(const summary& s);

}  // namespace pokeflow::roles::loadgen
