#pragma once
// A small pool of PostgreSQL connections, opened lazily and reopened after a failure.
//   auto c = co_await pool.acquire();
//   if (!c) return c.error();              // timeout or cannot connect (a pg::result)
//   co_await c->query("BEGIN"); ... co_await c->query("COMMIT");
// Not thread-safe: use the pool and its leases from the thread running its io_context.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/pg/connection.hpp"
#include "core/pg/result.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::core::pg {

struct pool_options {
  std::size_t size = 4;
  std::chrono::milliseconds connect_timeout{3000};
  // How long acquire() waits for a busy pool before giving up with kind `timeout`.
  std::chrono::milliseconds acquire_timeout{5000};
  // Client-side deadline of each query on the pool's connections (0 = none); see
  // connection::set_query_timeout.
  std::chrono::milliseconds query_timeout{0};
};

namespace detail {
struct pool_state;
}

// A connection borrowed from a pool; going out of scope gives it back. A connection that
// broke, or that is still inside a transaction block (BEGIN without COMMIT/ROLLBACK),
// is closed instead of reused. An empty lease carries the reason in error().
class lease {
 public:
  lease() = default;
  lease(lease&&) noexcept;
  lease& operator=(lease&&) noexcept;
  ~lease();

  explicit operator bool() const noexcept { return conn_ != nullptr; }
  // Throw std::logic_error on an empty lease (a failed acquire that was not checked).
  connection* operator->() const;
  connection& operator*() const;
  // Why acquire() failed; ok() on a non-empty lease.
  const result& error() const noexcept { return error_; }
  // Gives the connection back early (idempotent).
  void release() noexcept;

 private:
  friend class pool;
  std::shared_ptr<detail::pool_state> state_;
  std::unique_ptr<connection> conn_;
  result error_;
};

class pool {
 public:
  pool(boost::asio::any_io_executor ex, std::string conninfo, pool_options opts);
  // size, connect timeout and query timeout from the config.
  pool(boost::asio::any_io_executor ex, const pg_config& cfg);
  // Closes idle connections and fails pending acquires; leases still out close theirs
  // when they end.
  ~pool();
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  // A free connection, connecting one if the pool is below its size, else waits.
  // Fails (empty lease) with kind `timeout` after the acquire timeout, or with the
  // connect error (kind `connection`, `timeout`, ...).
  boost::asio::awaitable<lease> acquire();
  boost::asio::awaitable<lease> acquire(std::chrono::milliseconds timeout);

  // Health check for /readyz: nullopt when "SELECT 1" works, else a one-line reason
  // such as "postgres: connection to server at "127.0.0.1", port 1 failed: Connection refused ...".
  boost::asio::awaitable<std::optional<std::string>> ping();

  struct counters {
    std::size_t size;     // configured maximum
    std::size_t open;     // connected or connecting, leased or idle
    std::size_t idle;
    std::size_t waiting;  // acquires waiting for a connection
  };
  counters stats() const noexcept;

 private:
  std::shared_ptr<detail::pool_state> state_;
};

}  // namespace pokeflow::core::pg
