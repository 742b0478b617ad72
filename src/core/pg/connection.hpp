#pragma once
// One PostgreSQL connection driven by libpq in non-blocking mode on an Asio executor.
// Not thread-safe: use it from the thread running its io_context, one operation at a
// time (a second concurrent operation throws std::logic_error). Usually leased from a pool.
#include <chrono>
#include <concepts>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/pg/result.hpp"

namespace pokeflow::core::pg {

class connection {
 public:
  explicit connection(boost::asio::any_io_executor ex);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Opens the connection (conninfo as libpq takes it). Fails with kind `connection`
  // (refused, bad password, ...) or `timeout`; closes any previous connection first.
  boost::asio::awaitable<result> connect(std::string conninfo, std::chrono::milliseconds timeout);

  // One statement, extended protocol, text parameters ($1, $2, ...; std::nullopt = NULL):
  //   co_await c.query("SELECT * FROM t WHERE id = $1 AND name = $2", id, name);
  // Bounded by set_query_timeout(); also ends early (kind `connection`, connection broken)
  // when the awaiting coroutine is cancelled.
  // (GCC 12 rejects a braced list inside a co_await expression with "array used as
  // initializer", so pass parameters as arguments, or build the vector in its own statement.)
  boost::asio::awaitable<result> query(std::string sql, std::vector<param> params);
  template <class... Args>
    requires(std::constructible_from<param, Args &&> && ...)
  boost::asio::awaitable<result> query(std::string sql, Args&&... args) {
    return query(std::move(sql), std::vector<param>{param(std::forward<Args>(args))...});
  }

  // A script of ;-separated statements without parameters (simple protocol, used by
  // migrations). Returns the first error, else the last statement's result.
  boost::asio::awaitable<result> script(std::string sql);

  // Client-side deadline for each query() and script() (0, the default, = none). When an
  // answer has not fully arrived in time the result is kind `timeout` (retryable) and the
  // connection is marked broken (a pool then discards it): its protocol state is unknown.
  void set_query_timeout(std::chrono::milliseconds timeout) noexcept;
  std::chrono::milliseconds query_timeout() const noexcept;

  // Connected and no I/O error seen so far (a lost connection is detected on use).
  bool healthy() const noexcept;
  // Reads whatever the server sent while idle (e.g. a termination notice) without
  // blocking; false if the connection turned out to be dead.
  bool check_alive() noexcept;
  // Inside a transaction block (open or aborted): a pool must not hand it to someone else.
  bool in_transaction() const noexcept;
  int backend_pid() const noexcept;
  void close() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pokeflow::core::pg
