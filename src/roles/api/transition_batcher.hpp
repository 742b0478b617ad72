#pragma once
// Group commit of guarded transitions (PUT /orders/{id}), like create_batcher for creations:
// requests that arrive while a batch is being written queue up and go out together in the
// next statement, one transaction and one WAL flush for all of them, and each request still
// gets its own verdict (applied, unchanged, conflict, not found). The history trigger records
// each move as before. A batch refused for a non-transient reason is run again request by
// request, so only the guilty request fails. delivery.hpp holds the decisions (which requests
// may share a batch, which row answers which request, what a row means).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/metrics.hpp"
#include "core/pg/result.hpp"
#include "pokeflow/order.hpp"
#include "roles/api/delivery.hpp"

namespace pokeflow::core::pg {
class pool;
}

namespace pokeflow::roles::api {

// The request's verdict and the order as it now stands, or why there is none: a database
// failure (error set), or a request that kept meeting a concurrent writer (contended).
struct transition_result {
  std::optional<transition_verdict> verdict;  // set unless error or contended
  std::optional<order> current;               // the order's row for applied/unchanged/conflict
  core::pg::result error;
  bool contended = false;
};

class transition_batcher : public std::enable_shared_from_this<transition_batcher> {
 public:
  struct options {
    int max_flushers = 1;         // batches written at once (pool connections used)
    std::size_t max_batch = 256;  // requests per statement
    int max_attempts = 5;         // runs of one request that met a concurrent writer
  };
  transition_batcher(boost::asio::io_context& io, core::pg::pool& pool, core::metrics::registry& metrics,
                     options opts);
  transition_batcher(const transition_batcher&) = delete;
  transition_batcher& operator=(const transition_batcher&) = delete;

  // Queues one transition for the next batch and waits for its verdict. Database trouble comes
  // back in the outcome, never as an exception. A caller cancelled (request deadline) before
  // its batch started is dropped from the queue; once its batch started it may still apply.
  boost::asio::awaitable<transition_result> submit(std::int64_t id, order_state target);

  // No request queued or being written.
  bool idle() const noexcept { return flushers_ == 0 && queue_.empty(); }

  struct pending;

 private:
  boost::asio::awaitable<void> flush();
  boost::asio::awaitable<void> write(std::vector<std::shared_ptr<pending>>& batch);
  boost::asio::awaitable<core::pg::result> run(std::span<const std::shared_ptr<pending>> batch);
  std::vector<std::shared_ptr<pending>> take_batch();
  void start_flusher();

  boost::asio::io_context& io_;
  core::pg::pool& pool_;
  options opts_;
  std::deque<std::shared_ptr<pending>> queue_;
  std::set<std::int64_t> in_flight_;  // order ids in a batch being written
  int flushers_ = 0;
  core::metrics::histogram& batch_size_;
  core::metrics::counter& split_batches_;
  core::metrics::counter& task_failures_;
};

}  // namespace pokeflow::roles::api
