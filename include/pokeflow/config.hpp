#pragma once
// Validated configuration, one struct per concern. Filled only by src/core/cli.cpp
// (flag > environment POKEFLOW_<NAME> > --config file > default); each role gets a copy.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pokeflow {

enum class log_level { debug, info, warn, error };

struct log_config {
  log_level level = log_level::info;
};

struct pg_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 55432;
  std::string database = "poke_orders";
  std::string user = "poke_user";
  std::string password = "poke_password";
  int pool_size = 4;
  std::chrono::milliseconds connect_timeout{3000};
  // Bound on every statement: sent as the session's statement_timeout (the server gives up)
  // and enforced by the client (no answer in time: the connection is dropped, the caller
  // gets a retryable timeout). 0 disables both. Keep it under api_config::deadline.
  std::chrono::milliseconds query_timeout{4000};
  // libpq keyword/value connection string built from the fields above.
  std::string conninfo() const;
};

struct kafka_config {
  std::string brokers = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094";
  // Passed through verbatim to librdkafka (e.g. security.protocol=SASL_SSL).
  std::map<std::string, std::string> properties;
  std::string orders_topic = "poke-orders";
  std::string states_topic = "poke-orders-state";
  std::string dlq_topic = "poke-orders-dlq";
  // Producers wait this long for more messages before sending a request (librdkafka
  // linger.ms): under load a produce request carries many messages.
  std::chrono::milliseconds linger{5};
  // Consumers (fraud, updater) commit finished offsets when the oldest uncommitted progress
  // is this old or this many messages finished, not after every small batch; a crash
  // re-delivers at most that much (absorbed idempotently). 0 commits after every batch.
  std::chrono::milliseconds commit_interval{500};
  int commit_every = 1000;
};

struct admin_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9100;  // 0 disables the admin listener
};

struct api_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;
  std::string token = "pokeflow-dev-token";  // bearer token for PUT /orders/{id} and DELETE /orders
  std::size_t max_body_bytes = 16 * 1024;
  std::size_t max_connections = 1024;
  // Connections one client address (an IPv4 address, an IPv6 /64) may hold at once.
  std::size_t max_connections_per_client = 256;
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds request_timeout{10000};
  // Bound on handling one request once it has been read (database work included): past it
  // the answer is 503 with Retry-After and the handler is cancelled.
  std::chrono::milliseconds deadline{5000};
  bool migrate_on_start = true;
  // Consumer groups whose lag /dashboard shows (the fraud and updater groups; set by cli).
  std::vector<std::string> dashboard_groups{"poke-order-consumer", "order-updater"};
  // Outbox relay
  int relay_batch = 500;
  std::chrono::milliseconds relay_interval{50};
};

struct fraud_rules {
  double max_price = 200.0;              // price > max_price -> rejected
  std::vector<std::int64_t> blocked_users{5};
  std::vector<std::string> blocked_prefixes{"d", "f", "a"};  // case-insensitive
};

struct fraud_config {
  std::string group = "poke-order-consumer";
  std::string rules_file = "config/fraud-rules.ini";
  fraud_rules rules;
};

struct updater_config {
  std::string group = "order-updater";
  std::string api_url = "http://127.0.0.1:8000";
  std::string token = "pokeflow-dev-token";
  // Decisions applied (PUTs in flight) at once; messages of one order stay in order.
  int concurrency = 16;
  // Messages consumed ahead and tracked until committed; bounds memory and what a crash
  // re-delivers when one slow decision holds the committed offset back.
  int window = 1000;
};

struct reverser_config {
  std::chrono::milliseconds interval{60000};
  std::chrono::milliseconds pending_timeout{30 * 60 * 1000};  // T
  int batch = 500;
  // Pending this long with no decision: re-publish the order's event through the outbox (at
  // most once per this age, checked every half of it). 0, or not below T: off.
  std::chrono::milliseconds redrive_after{60000};
};

struct loadgen_config {
  std::string api_url = "http://127.0.0.1:8000";
  int users = 5;
  int orders_per_user = 1000;
  std::chrono::milliseconds delay{2000};
  std::vector<std::int64_t> user_ids{1, 2, 3, 4, 5};
  std::chrono::milliseconds initial_delay{0};
  double rate = 0;  // > 0 selects the open model
  std::chrono::milliseconds duration{10000};
  int connections = 32;
  std::string ledger;  // path; empty = no ledger
  std::string summary_json;  // path; empty = stdout only
  std::string pokemon_file = "config/pokemon.txt";
  std::string countries_file = "config/countries.txt";
};

// `pokeflow verify` (a subcommand, not a role).
struct verify_config {
  std::string ledger;                         // CSV written by loadgen
  std::string since;                          // or a time window (timestamps PostgreSQL understands)
  std::string until;
  std::chrono::milliseconds deadline{60000};  // acknowledged -> terminal allowed time
  std::chrono::milliseconds wait{0};          // keep re-checking stuck orders this long before judging
  std::string json;                           // also write the JSON summary here
};

enum class role { api, fraud, updater, reverser, loadgen };

struct app_config {
  std::vector<role> roles;
  log_config log;
  admin_config admin;
  pg_config pg;
  kafka_config kafka;
  api_config api;
  fraud_config fraud;
  updater_config updater;
  reverser_config reverser;
  loadgen_config loadgen;
  std::chrono::milliseconds shutdown_timeout{10000};
};

const char* to_string(role r) noexcept;
const char* to_string(log_level l) noexcept;

}  // namespace pokeflow
