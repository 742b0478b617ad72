#pragma once
// Once a second: the outbox's backlog and the age of its oldest row into two gauges
// (/metrics, /dashboard and the chaos suite's "outbox drained" probe read them), from index
// probes on the outbox's primary key, not a count of its rows (sql::outbox_stats says why).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/metrics.hpp"

namespace pokeflow::core::pg {
class pool;
}

namespace pokeflow::roles::api {

class outbox_stats {
 public:
  outbox_stats(boost::asio::io_context& io, core::pg::pool& pool, core::metrics::registry& metrics);
  outbox_stats(const outbox_stats&) = delete;
  outbox_stats& operator=(const outbox_stats&) = delete;

  // Samples until stop(). A failed sample leaves the gauges as they were (each wait is
  // bounded: acquire 2 s, the query by the pool's query timeout).
  boost::asio::awaitable<void> run();
  void stop() noexcept;

  core::metrics::gauge& backlog;
  core::metrics::gauge& oldest_age;

 private:
  core::pg::pool& pool_;
  boost::asio::steady_timer timer_;
  bool stopping_ = false;
};

}  // namespace pokeflow::roles::api
