#include "core/runtime.hpp"

#include <csignal>

#include "core/log.hpp"

namespace pokeflow::core {

runtime::runtime(std::chrono::milliseconds shutdown_timeout, metrics::registry& metrics)
    : signals_(io_, SIGTERM, SIGINT),
      deadline_(io_),
      drain_poll_(io_),
      shutdown_timeout_(shutdown_timeout),
      tasks_(io_, metrics, [this](int code) { request_stop(code); }) {}

void runtime::add(std::shared_ptr<service> s) { services_.push_back(std::move(s)); }
void runtime::add_last(std::shared_ptr<service> s) { last_.push_back(std::move(s)); }

void runtime::request_stop(int exit_code) {
  if (exit_code != 0 && exit_code_ == 0) exit_code_ = exit_code;
  begin_stop();
}

void runtime::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  log::info("stopping", {{"timeout_ms", static_cast<std::int64_t>(shutdown_timeout_.count())}});
  tasks_.stop();
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) (*it)->stop();
  deadline_.expires_after(shutdown_timeout_);
  deadline_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    log::error("graceful stop timed out, stopping hard", {});
    hard_stopped_ = true;
    io_.stop();
  });
  // A second signal means "now".
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    log::warn("second signal, stopping hard", {{"signal", sig}});
    hard_stopped_ = true;
    io_.stop();
  });
  watch_drain();
}

bool runtime::drained(const std::vector<std::shared_ptr<service>>& list) {
  for (auto& s : list)
    if (!s->stopped()) return false;
  return true;
}

void runtime::watch_drain() {
  if (drained(services_) && !last_stopping_) {
    // The roles are done: now the components that had to outlive them.
    last_stopping_ = true;
    for (auto it = last_.rbegin(); it != last_.rend(); ++it) (*it)->stop();
  }
  if (!last_stopping_ || !drained(last_)) {
    drain_poll_.expires_after(std::chrono::milliseconds(20));
    drain_poll_.async_wait([this](boost::system::error_code ec) {
      if (!ec) watch_drain();
    });
    return;
  }
  log::info("stopped cleanly", {});
  io_.stop();
}

int runtime::run() {
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    log::info("signal received", {{"signal", sig}});
    begin_stop();
  });
  for (auto& s : last_) s->run();
  for (auto& s : services_) s->run();
  io_.run();
  if (hard_stopped_) return exit_code_ ? exit_code_ : 1;
  return exit_code_;
}

}  // namespace pokeflow::core
