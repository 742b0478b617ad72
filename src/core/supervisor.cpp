#include "core/supervisor.hpp"

#include <algorithm>
#include <exception>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace pokeflow::core {

namespace asio = boost::asio;

const char* to_string(task_status s) noexcept {
  switch (s) {
    case task_status::running: return "running";
    case task_status::restarting: return "restarting";
    case task_status::ended: return "ended";
    case task_status::failed: return "failed";
  }
  return "failed";
}

std::string describe_exception(std::exception_ptr e) {
  if (!e) return "no exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

struct task_handle::entry {
  explicit entry(asio::io_context& io) : timer(io) {}
  std::string name;
  task_status status = task_status::running;
  std::string last_error;
  std::uint64_t failures = 0;
  asio::steady_timer timer;  // the restart backoff
};

task_status task_handle::status() const noexcept { return e_ ? e_->status : task_status::ended; }
bool task_handle::finished() const noexcept {
  return !e_ || e_->status == task_status::ended || e_->status == task_status::failed;
}
std::uint64_t task_handle::failures() const noexcept { return e_ ? e_->failures : 0; }

struct supervisor::state {
  asio::io_context& io;
  metrics::registry& metrics;
  std::function<void(int)> request_exit;
  bool stopping = false;
  std::vector<std::shared_ptr<task_handle::entry>> tasks;
};

namespace {

using entry = task_handle::entry;

asio::awaitable<void> supervise(std::shared_ptr<supervisor::state> st, std::shared_ptr<entry> e,
                                supervisor::task_fn fn, task_policy policy) {
  auto& failures = st->metrics.get_counter("pokeflow_task_failures_total",
                                           "Exceptions that ended a supervised task", {{"task", e->name}});
  auto& up = st->metrics.get_gauge("pokeflow_task_up", "1 while a supervised task runs", {{"task", e->name}});
  auto delay = policy.backoff_initial;
  for (;;) {
    e->status = task_status::running;
    up.set(1);
    const auto started = std::chrono::steady_clock::now();
    std::exception_ptr failure;
    try {
      co_await fn();
    } catch (...) {
      failure = std::current_exception();
    }
    up.set(0);
    if (!failure) {
      e->status = task_status::ended;
      co_return;
    }
    ++e->failures;
    failures.inc();
    e->last_error = describe_exception(failure);
    bool fatal = false;
    try {
      std::rethrow_exception(failure);
    } catch (const fatal_task_error&) {
      fatal = true;
    } catch (...) {
    }
    if (fatal || policy.action == on_failure::exit) {
      e->status = task_status::failed;
      log::error("task failed, ending the process",
                 {{"task", e->name}, {"error", e->last_error}, {"exit_code", exit_task_failed}});
      st->request_exit(exit_task_failed);
      co_return;
    }
    if (st->stopping) {
      e->status = task_status::failed;
      log::error("task failed while stopping, not restarted", {{"task", e->name}, {"error", e->last_error}});
      co_return;
    }
    if (std::chrono::steady_clock::now() - started >= policy.healthy_after) delay = policy.backoff_initial;
    e->status = task_status::restarting;
    log::error("task failed, restarting",
               {{"task", e->name},
                {"error", e->last_error},
                {"restart_in_ms", static_cast<std::int64_t>(delay.count())},
                {"failures", static_cast<std::int64_t>(e->failures)}});
    e->timer.expires_after(delay);
    boost::system::error_code ec;
    co_await e->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (st->stopping) {
      e->status = task_status::failed;
      co_return;
    }
    delay = std::min(delay * 2, policy.backoff_max);
  }
}

}  // namespace

supervisor::supervisor(asio::io_context& io, metrics::registry& metrics, std::function<void(int)> request_exit)
    : st_(std::make_shared<state>(state{io, metrics, std::move(request_exit), false, {}})) {}

supervisor::~supervisor() { stop(); }

task_handle supervisor::spawn(std::string name, task_fn fn, task_policy policy) {
  // Tasks that returned leave the list, so short-lived tasks spawned per batch cost nothing.
  std::erase_if(st_->tasks, [](const auto& t) { return t->status == task_status::ended; });
  auto e = std::make_shared<entry>(st_->io);
  e->name = std::move(name);
  st_->tasks.push_back(e);
  // supervise() catches everything fn throws; the handler only sees what supervising itself
  // failed with (bad_alloc while logging), which is fatal too.
  asio::co_spawn(st_->io, supervise(st_, e, std::move(fn), policy), [st = st_, e](std::exception_ptr x) {
    if (!x) return;
    e->status = task_status::failed;
    log::error("task supervision failed", {{"task", e->name}, {"error", describe_exception(x)}});
    st->request_exit(exit_task_failed);
  });
  return task_handle(e);
}

void supervisor::stop() noexcept {
  st_->stopping = true;
  for (auto& e : st_->tasks) e->timer.cancel();
}

std::optional<std::string> supervisor::problem() const {
  std::string out;
  for (const auto& e : st_->tasks) {
    if (e->status != task_status::restarting && e->status != task_status::failed) continue;
    if (!out.empty()) out += "; ";
    out += e->name + ": " + to_string(e->status) + ": " + e->last_error;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace pokeflow::core
