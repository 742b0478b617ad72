#pragma once
// The process runtime: one io_context, SIGTERM/SIGINT handling and a bounded graceful stop.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"

namespace pokeflow::core {

// nullopt when ready, else the reason (shown by /readyz).
using readiness_check = std::function<boost::asio::awaitable<std::optional<std::string>>()>;

// A role or any long-running component main wires up. run() starts async work on the
// io_context; stop() begins a drain and must be idempotent; the component is done when
// it has no more pending work on the io_context.
class service {
 public:
  virtual ~service() = default;
  virtual void run() = 0;
  virtual void stop() noexcept = 0;
  // True once a stop() finished draining (nothing left to flush or commit).
  virtual bool stopped() const noexcept = 0;
};

// What every role receives besides its own config.
struct role_context {
  boost::asio::io_context& io;
  metrics::registry& metrics;
  std::function<void(std::string name, readiness_check)> add_readiness;
  std::function<void(int exit_code)> request_exit;  // a role that finishes by itself (loadgen)
  log::logger log;  // the role's own lines carry its name (several roles share one process)
};

class runtime {
 public:
  explicit runtime(std::chrono::milliseconds shutdown_timeout);
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  boost::asio::io_context& io() noexcept { return io_; }
  // Components are stopped in reverse order of registration (consumers before the
  // servers they call), then the runtime waits for the io_context to drain.
  void add(std::shared_ptr<service> s);
  // Runs until every component drained after a stop; returns the process exit code.
  int run();
  // Programmatic stop (same path as SIGTERM).
  void request_stop(int exit_code = 0);

 private:
  void begin_stop();
  void watch_drain();
  boost::asio::io_context io_{1};
  boost::asio::signal_set signals_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer drain_poll_;
  std::chrono::milliseconds shutdown_timeout_;
  std::vector<std::shared_ptr<service>> services_;
  bool stopping_ = false;
  bool hard_stopped_ = false;
  int exit_code_ = 0;
};

}  // namespace pokeflow::core
