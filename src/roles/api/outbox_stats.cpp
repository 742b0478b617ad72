#include "roles/api/outbox_stats.hpp"

#include <chrono>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/pg/pool.hpp"
#include "roles/api/sql.hpp"

namespace pokeflow::roles::api {

namespace asio = boost::asio;
using namespace std::chrono_literals;

outbox_stats::outbox_stats(asio::io_context& io, core::pg::pool& pool, core::metrics::registry& metrics)
    : backlog(metrics.get_gauge("pokeflow_outbox_backlog", "Outbox events not yet published")),
      oldest_age(metrics.get_gauge("pokeflow_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event")),
      pool_(pool),
      timer_(io) {}

void outbox_stats::stop() noexcept {
  stopping_ = true;
  timer_.cancel();
}

asio::awaitable<void> outbox_stats::run() {
  while (!stopping_) {
    if (auto c = co_await pool_.acquire(2s)) {
      auto r = co_await c->query(sql::outbox_stats);
      if (r) {
        backlog.set(static_cast<double>(r.get_int(0, "n")));
        oldest_age.set(r.get_double(0, "age"));
      }
    }
    if (stopping_) break;
    timer_.expires_after(1s);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace pokeflow::roles::api
