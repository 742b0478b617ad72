#include "core/pg/pool.hpp"

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace pokeflow::core::pg {

namespace asio = boost::asio;
using asio::awaitable;

namespace detail {

struct waiter {
  explicit waiter(asio::any_io_executor ex, std::chrono::steady_clock::time_point deadline) : timer(ex, deadline) {}
  asio::steady_timer timer;
  std::unique_ptr<connection> conn;  // handed over by give_back
  bool capacity = false;             // a slot freed up: go and connect one
};

struct pool_state {
  asio::any_io_executor ex;
  std::string conninfo;
  pool_options opts;
  std::vector<std::unique_ptr<connection>> idle;
  std::deque<std::shared_ptr<waiter>> waiters;
  std::size_t open = 0;
  bool closed = false;

  void wake_for_capacity() {
    if (waiters.empty()) return;
    auto w = std::move(waiters.front());
    waiters.pop_front();
    w->capacity = true;
    w->timer.cancel();
  }

  void discard(std::unique_ptr<connection> c) {
    c.reset();
    --open;
    wake_for_capacity();
  }

  void give_back(std::unique_ptr<connection> c) noexcept {
    if (!c) return;
    try {
      if (closed || !c->healthy()) return discard(std::move(c));
      if (c->in_transaction()) {
        // Rolling back needs a round trip a destructor cannot wait for; a fresh
        // connection is cheaper than a leaked transaction holding locks.
        log::warn("postgres connection returned inside a transaction; closing it",
                  {{"backend_pid", c->backend_pid()}});
        return discard(std::move(c));
      }
      if (!waiters.empty()) {
        auto w = std::move(waiters.front());
        waiters.pop_front();
        w->conn = std::move(c);
        w->timer.cancel();
        return;
      }
      idle.push_back(std::move(c));
    } catch (...) {
      // Only allocation can throw here; losing the connection is the safe outcome.
      c.reset();
      --open;
    }
  }
};

}  // namespace detail

lease::lease(lease&& o) noexcept
    : state_(std::move(o.state_)), conn_(std::move(o.conn_)), error_(std::move(o.error_)) {}

lease& lease::operator=(lease&& o) noexcept {
  if (this != &o) {
    release();
    state_ = std::move(o.state_);
    conn_ = std::move(o.conn_);
    error_ = std::move(o.error_);
  }
  return *this;
}

lease::~lease() { release(); }

void lease::release() noexcept {
  if (conn_ && state_) state_->give_back(std::move(conn_));
  conn_.reset();
  state_.reset();
}

connection* lease::operator->() const {
  if (!conn_) throw std::logic_error("pg::lease: empty lease used (acquire failed: " + error_.message() + ")");
  return conn_.get();
}

connection& lease::operator*() const { return *operator->(); }

pool::pool(asio::any_io_executor ex, std::string conninfo, pool_options opts)
    : state_(std::make_shared<detail::pool_state>()) {
  if (opts.size == 0) throw std::invalid_argument("pg::pool: size must be at least 1");
  state_->ex = std::move(ex);
  state_->conninfo = std::move(conninfo);
  state_->opts = opts;
}

pool::pool(asio::any_io_executor ex, const pg_config& cfg)
    : pool(std::move(ex), cfg.conninfo(),
           pool_options{static_cast<std::size_t>(std::max(1, cfg.pool_size)), cfg.connect_timeout,
                        std::chrono::milliseconds(5000), cfg.query_timeout}) {}

pool::~pool() {
  auto& s = *state_;
  s.closed = true;
  s.idle.clear();
  while (!s.waiters.empty()) s.wake_for_capacity();
}

awaitable<lease> pool::acquire() { return acquire(state_->opts.acquire_timeout); }

awaitable<lease> pool::acquire(std::chrono::milliseconds timeout) {
  // Own the state: the pool object may go away while we wait.
  auto st = state_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  lease out;
  for (;;) {
    if (st->closed) {
      out.error_ = result::failure(error_kind::shutdown, "postgres pool is closed");
      co_return out;
    }
    while (!st->idle.empty()) {
      auto c = std::move(st->idle.back());
      st->idle.pop_back();
      // A backend killed while the connection sat idle is noticed here, not by the caller.
      if (c->check_alive()) {
        out.state_ = st;
        out.conn_ = std::move(c);
        co_return out;
      }
      log::info("postgres connection found dead in the pool; reconnecting");
      c.reset();
      --st->open;
    }
    if (st->open < st->opts.size) {
      ++st->open;
      auto c = std::make_unique<connection>(st->ex);
      c->set_query_timeout(st->opts.query_timeout);
      auto r = co_await c->connect(st->conninfo, st->opts.connect_timeout);
      if (!r.ok()) {
        st->discard(std::move(c));
        out.error_ = std::move(r);
        co_return out;
      }
      out.state_ = st;
      out.conn_ = std::move(c);
      co_return out;
    }
    auto w = std::make_shared<detail::waiter>(st->ex, deadline);
    st->waiters.push_back(w);
    co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (w->conn) {
      out.state_ = st;
      out.conn_ = std::move(w->conn);
      co_return out;
    }
    if (w->capacity) continue;
    std::erase(st->waiters, w);
    out.error_ = result::failure(error_kind::timeout, "no postgres connection free within " +
                                                          std::to_string(timeout.count()) + "ms (all " +
                                                          std::to_string(st->opts.size) + " in use)");
    co_return out;
  }
}

awaitable<std::optional<std::string>> pool::ping() {
  // A second attempt absorbs one stale connection (e.g. right after a server restart).
  result last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto c = co_await acquire();
    if (!c) {
      last = c.error();
      break;
    }
    last = co_await c->query("SELECT 1");
    if (last.ok()) co_return std::nullopt;
    if (!last.retryable()) break;
  }
  co_return "postgres: " + last.message();
}

pool::counters pool::stats() const noexcept {
  return {state_->opts.size, state_->open, state_->idle.size(), state_->waiters.size()};
}

}  // namespace pokeflow::core::pg
