#pragma once
// The outbox relay: claims unpublished outbox rows, produces them to Kafka and deletes what
// Kafka acknowledged, all in one transaction, so an event leaves at least once and is deleted
// only once published (delivery.hpp decides what is deleted). Several api replicas share the
// outbox (FOR UPDATE SKIP LOCKED). Bounded: every statement by the pool's query timeout,
// producing by the producer's message timeout, an idle transaction by the server's
// idle_in_transaction_session_timeout.
#include <chrono>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/metrics.hpp"

namespace pokeflow::core::pg {
class pool;
}
namespace pokeflow::core::kafka {
class producer;
}

namespace pokeflow::roles::api {

class outbox_relay {
 public:
  struct options {
    int batch = 500;                               // rows per round
    std::chrono::milliseconds interval{50};        // poll interval when idle
    // After a round, a wake waits this long before the next one (--kafka-linger), so rows of
    // several create batches go out in one produce request instead of one round each.
    std::chrono::milliseconds linger{5};
  };
  outbox_relay(boost::asio::io_context& io, core::pg::pool& pool, core::kafka::producer& producer,
               core::metrics::registry& metrics, options opts);
  outbox_relay(const outbox_relay&) = delete;
  outbox_relay& operator=(const outbox_relay&) = delete;

  // Rounds until stop(), then flushes the producer (at most 5 s). Failed rounds back off
  // (100 ms doubling to 5 s) and count in pokeflow_outbox_relay_errors_total. May throw only
  // on a bug; the api restarts it then.
  boost::asio::awaitable<void> run();
  // Publish now rather than at the next poll (a batch of orders was just written).
  void wake() noexcept;
  void stop() noexcept;

 private:
  // One round; returns rows published, or -1 on failure.
  boost::asio::awaitable<int> round();

  core::pg::pool& pool_;
  core::kafka::producer& producer_;
  options opts_;
  boost::asio::steady_timer wake_;
  bool stopping_ = false;
  bool woken_ = false;      // wake() since the current round began
  bool lingering_ = false;  // waiting out a linger: wake() does not cut it short
  core::metrics::counter& published_;
  core::metrics::counter& errors_;
};

}  // namespace pokeflow::roles::api
