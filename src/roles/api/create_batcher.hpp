#pragma once
// Group commit of order creations: requests that arrive while a batch is being written queue
// up and go out together in the next statement. At low load a batch is one order (one round
// trip); under load many orders share one transaction and one WAL flush, and each request
// still gets its own answer. One client's bad order never fails another's: a batch refused
// for a non-transient reason is written again order by order (delivery.hpp decides).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/json/codec.hpp"
#include "core/metrics.hpp"
#include "core/pg/result.hpp"
#include "pokeflow/order.hpp"

namespace pokeflow::core::pg {
class pool;
}

namespace pokeflow::roles::api {

// The order as stored, or why it was not (a pg::result failure: retryable or not).
struct create_outcome {
  std::optional<order> created;
  core::pg::result error;
};

class create_batcher : public std::enable_shared_from_this<create_batcher> {
 public:
  struct options {
    std::string topic;            // the outbox rows' topic
    int max_flushers = 1;         // batches written at once (pool connections used)
    std::size_t max_batch = 256;  // orders per statement
  };
  // on_written runs after each committed batch (the api wakes the relay with it).
  create_batcher(boost::asio::io_context& io, core::pg::pool& pool, core::metrics::registry& metrics, options opts,
                 std::function<void()> on_written);
  create_batcher(const create_batcher&) = delete;
  create_batcher& operator=(const create_batcher&) = delete;

  // Queues one order for the next batch and waits for that batch. Database trouble comes back
  // in the outcome, never as an exception. If the caller is cancelled (a request deadline)
  // before its batch started, the order is dropped from the queue; once the batch started it
  // may still be written.
  boost::asio::awaitable<create_outcome> submit(core::json::new_order in);

  // No batch queued or being written (the api waits for this before it reports stopped).
  bool idle() const noexcept { return flushers_ == 0 && queue_.empty(); }

  struct pending;

 private:
  boost::asio::awaitable<void> flush();
  boost::asio::awaitable<void> write(std::vector<std::shared_ptr<pending>>& batch);
  boost::asio::awaitable<core::pg::result> insert(std::span<const std::shared_ptr<pending>> batch);

  boost::asio::io_context& io_;
  core::pg::pool& pool_;
  options opts_;
  std::function<void()> on_written_;
  std::deque<std::shared_ptr<pending>> queue_;
  int flushers_ = 0;
  core::metrics::counter& orders_created_;
  core::metrics::histogram& batch_size_;
  core::metrics::counter& split_batches_;
  core::metrics::counter& task_failures_;
  // Where a creation's time goes (pokeflow_create_phase_seconds): queued until its batch starts, waiting
  // for a pool connection, the statement with its commit.
  core::metrics::histogram& queued_;
  core::metrics::histogram& acquire_;
  core::metrics::histogram& statement_;
};

}  // namespace pokeflow::roles::api
