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
#include "core/supervisor.hpp"

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
  supervisor& tasks;  // every co_spawn of a role goes through tasks.spawn (see supervisor.hpp)
  log::logger log;  // the role's own lines carry its name (several roles share one process)
};

class runtime {
 public:
  runtime(std::chrono::milliseconds shutdown_timeout, metrics::registry& metrics);
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  boost::asio::io_context& io() noexcept { return io_; }
  // Components are stopped in reverse order of registration (consumers before the
  // servers they call), then the runtime waits for the io_context to drain.
  void add(std::shared_ptr<service> s);
  // Stopped only once every add()ed component drained (the admin listener, so /healthz and
  // /metrics answer while roles drain); also in reverse order of registration.
  void add_last(std::shared_ptr<service> s);
  // The supervisor of every spawned task; a fatal task failure stops the runtime with code 70.
  supervisor& tasks() noexcept { return tasks_; }
  // True once a stop began (readiness reports it).
  bool stopping() const noexcept { return stopping_; }
  // Runs until every component drained after a stop; returns the process exit code.
  int run();
  // Programmatic stop (same path as SIGTERM).
  void request_stop(int exit_code = 0);

 private:
  void begin_stop();
  void watch_drain();
  static bool drained(const std::vector<std::shared_ptr<service>>& list);
  boost::asio::io_context io_{1};
  boost::asio::signal_set signals_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer drain_poll_;
  std::chrono::milliseconds shutdown_timeout_;
  std::vector<std::shared_ptr<service>> services_;
  std::vector<std::shared_ptr<service>> last_;
  supervisor tasks_;
  bool last_stopping_ = false;
  bool stopping_ = false;
  bool hard_stopped_ = false;
  int exit_code_ = 0;
};

}  // namespace pokeflow::core
