#pragma once
// Value types shared by the Kafka producer, consumer and admin. librdkafka stays out of
// this header: error codes are carried as plain ints (rd_kafka_resp_err_t values).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pokeflow::core::kafka {

// retryable: the same operation may succeed later unchanged (broker down, timeout, leader
// moving, not enough replicas). fatal: retrying as-is will not help (too large, invalid,
// not authorized, producer fenced); the caller must dead-letter, alert or restart.
enum class error_kind { retryable, fatal };
const char* to_string(error_kind k) noexcept;

struct kafka_error {
  error_kind kind = error_kind::fatal;
  int code = 0;          // rd_kafka_resp_err_t value
  std::string message;   // librdkafka's text, plus context
};

// Classifies an rd_kafka_resp_err_t value (librdkafka has already retried internally).
error_kind classify(int code) noexcept;
// librdkafka's symbolic name of a code, e.g. "_MSG_TIMED_OUT", "NOT_ENOUGH_REPLICAS".
std::string error_name(int code);
kafka_error make_error(int code, std::string_view context = {});

// Thrown by admin calls and by constructors on a request-level failure.
class kafka_exception : public std::runtime_error {
 public:
  explicit kafka_exception(kafka_error e)
      : std::runtime_error(e.message), error_(std::move(e)) {}
  const kafka_error& error() const noexcept { return error_; }

 private:
  kafka_error error_;
};

inline constexpr std::int32_t unassigned_partition = -1;

struct header {
  std::string key;
  std::string value;
};

struct topic_partition {
  std::string topic;
  std::int32_t partition = 0;
  friend auto operator<=>(const topic_partition&, const topic_partition&) = default;
};

struct message {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;  // nullopt = null key
  std::string value;               // a null value arrives as empty
  std::vector<header> headers;
  std::int64_t timestamp_ms = -1;
  // The header value with this key, if present.
  std::optional<std::string_view> header_value(std::string_view k) const;
};

// Lag of one partition: high_watermark - position (or - committed for a group), -1 = unknown.
struct partition_lag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t high_watermark = -1;
  std::int64_t position = -1;  // next offset to consume / committed offset
  std::int64_t lag = -1;
};

struct broker_info {
  std::int32_t id = -1;
  std::string host;
  int port = 0;
};

struct partition_info {
  std::int32_t id = 0;
  std::int32_t leader = -1;  // -1: offline
  std::vector<std::int32_t> replicas;
  std::vector<std::int32_t> isr;
  int error = 0;
  bool offline() const noexcept { return leader < 0; }
  bool under_replicated() const noexcept { return isr.size() < replicas.size(); }
};

struct topic_info {
  std::string name;
  int error = 0;  // e.g. UNKNOWN_TOPIC_OR_PART (3) when absent
  std::vector<partition_info> partitions;
};

struct cluster_metadata {
  std::vector<broker_info> brokers;
  std::vector<topic_info> topics;
  const topic_info* find(std::string_view topic) const noexcept;
};

}  // namespace pokeflow::core::kafka
