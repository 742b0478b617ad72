#pragma once
// Idempotent Kafka producer (acks=all, lz4, bounded queue) for Asio coroutines. All librdkafka
// callbacks run on the io_context thread (queue wake-up fd), nothing here blocks it.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/kafka/types.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::core::kafka {

struct producer_options {
  std::string client_id = "pokeflow";
  // Upper bound for a delivery report (librdkafka retries internally until then).
  std::chrono::milliseconds message_timeout{30000};
  std::chrono::milliseconds linger{5};
  // Local queue cap (queue.buffering.max.kbytes); keeps RSS bounded when brokers are down.
  int queue_max_kbytes = 16 * 1024;
  bool quiet = false;  // drop librdkafka's own log lines (CLI tools)
};

// Outcome of one message: error set, or the partition/offset the broker assigned.
struct delivery {
  std::optional<kafka_error> error;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  bool ok() const noexcept { return !error; }
};

// One message to send. The views must stay valid until produce/produce_batch is awaited
// (librdkafka copies them when the call starts).
struct outgoing {
  std::string_view topic;
  std::int32_t partition = unassigned_partition;  // unassigned = partitioner on key
  std::string_view key;
  std::string_view value;
  std::vector<header> headers;
};

class producer {
 public:
  // Throws std::invalid_argument naming a bad property, std::runtime_error otherwise.
  producer(boost::asio::io_context& io, const kafka_config& cfg, producer_options opts = {});
  ~producer();
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  // Completes when the delivery report arrives (at most message_timeout later) or at once if
  // the message cannot be enqueued. Never throws for Kafka errors.
  boost::asio::awaitable<delivery> produce(std::string_view topic, std::int32_t partition,
                                           std::string_view key, std::string_view value,
                                           std::vector<header> headers = {});
  // Enqueues all messages (waiting while the local queue is full), then completes when every
  // delivery report is in. Results are in input order.
  boost::asio::awaitable<std::vector<delivery>> produce_batch(std::span<const outgoing> msgs);

  // Set once librdkafka raised a fatal error (idempotence broken, producer fenced): the
  // instance is unusable and every later delivery fails with it. Callers stop retrying and end
  // the process (core::fatal_task_error).
  std::optional<kafka_error> fatal_error() const;
  // Raises a fatal error the way the broker would (librdkafka's rd_kafka_test_fatal_error), for
  // tests of the paths above; never called by the roles.
  void raise_fatal_error_for_test(int code, const std::string& reason);

  // nullopt if a broker answers a metadata request within timeout, else a one-line reason.
  // Runs the blocking request on a private worker thread.
  boost::asio::awaitable<std::optional<std::string>> ping(std::chrono::milliseconds timeout =
                                                              std::chrono::milliseconds(3000));

  // Waits (asynchronously) until everything is delivered or timeout; true if drained. Call
  // before destruction; the destructor purges whatever is left.
  boost::asio::awaitable<bool> flush(std::chrono::milliseconds timeout);

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::core::kafka
