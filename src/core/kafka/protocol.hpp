#pragma once
// The two Kafka protocol requests librdkafka 2.0.2 lacks, encoded by hand so `topics fix` can
// raise a topic's replication factor in place: AlterPartitionReassignments (API key 45, v0) and
// ListPartitionReassignments (API key 46, v0). Both are "flexible" versions: request header v2
// (client_id still a classic int16 string, then tagged fields), compact strings/arrays
// (unsigned varint length + 1) and empty tagged-field sections; responses use header v1.
// Pure functions, no I/O; plus one small PLAINTEXT round trip over Asio.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pokeflow::core::kafka::protocol {

inline constexpr std::int16_t api_alter_partition_reassignments = 45;
inline constexpr std::int16_t api_list_partition_reassignments = 46;

// Malformed or truncated response.
class decode_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct partition_reassignment {
  std::string topic;
  std::int32_t partition = 0;
  std::optional<std::vector<std::int32_t>> replicas;  // nullopt cancels a pending reassignment
};

// Whole frame including the int32 size prefix. Partitions are grouped per topic in order of
// first appearance.
std::vector<std::uint8_t> encode_alter_partition_reassignments(std::int32_t correlation_id,
                                                               std::string_view client_id,
                                                               std::int32_t timeout_ms,
                                                               const std::vector<partition_reassignment>& parts);

struct partition_result {
  std::string topic;
  std::int32_t partition = 0;
  std::int16_t error_code = 0;
  std::string error_message;
};

// What both responses start with.
struct response_head {
  std::int32_t correlation_id = 0;
  std::int32_t throttle_time_ms = 0;
  std::int16_t error_code = 0;
  std::string error_message;
};

struct alter_reassignments_response : response_head {
  std::vector<partition_result> partitions;
};

// `body` is the response without its size prefix (starts at the correlation id).
alter_reassignments_response decode_alter_partition_reassignments(std::span<const std::uint8_t> body);

struct topic_partitions {
  std::string topic;
  std::vector<std::int32_t> partitions;
};

// topics = nullopt lists every ongoing reassignment in the cluster.
std::vector<std::uint8_t> encode_list_partition_reassignments(
    std::int32_t correlation_id, std::string_view client_id, std::int32_t timeout_ms,
    const std::optional<std::vector<topic_partitions>>& topics);

struct ongoing_reassignment {
  std::string topic;
  std::int32_t partition = 0;
  std::vector<std::int32_t> replicas;
  std::vector<std::int32_t> adding;
  std::vector<std::int32_t> removing;
};

struct list_reassignments_response : response_head {
  std::vector<ongoing_reassignment> ongoing;
};

list_reassignments_response decode_list_partition_reassignments(std::span<const std::uint8_t> body);

// Sends one framed request over a fresh PLAINTEXT TCP connection and returns the response body
// (size prefix stripped). Throws boost::system::system_error (connect/read failure, timeout as
// operation_aborted) or decode_error (oversized frame). Uses the calling coroutine's executor.
boost::asio::awaitable<std::vector<std::uint8_t>> round_trip(std::string host, int port,
                                                             std::vector<std::uint8_t> frame,
                                                             std::chrono::milliseconds timeout);

}  // namespace pokeflow::core::kafka::protocol
