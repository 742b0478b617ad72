#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/metrics.hpp"
#include "core/runtime.hpp"
#include "core/supervisor.hpp"

using namespace pokeflow;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

double failures_of(core::metrics::registry& m, const std::string& task) {
  return m.get_counter("pokeflow_task_failures_total", "", {{"task", task}}).value();
}

core::task_policy fast_restart() {
  core::task_policy p;
  p.backoff_initial = 1ms;
  p.backoff_max = 4ms;
  return p;
}

// A component whose run() spawns one supervised task, like a role does.
struct one_task_service : core::service {
  core::supervisor& sup;
  core::supervisor::task_fn fn;
  core::task_policy policy;
  core::task_handle handle;
  one_task_service(core::supervisor& s, core::supervisor::task_fn f, core::task_policy p)
      : sup(s), fn(std::move(f)), policy(p) {}
  void run() override { handle = sup.spawn("worker", fn, policy); }
  void stop() noexcept override {}
  bool stopped() const noexcept override { return handle.finished(); }
};

}  // namespace

TEST_CASE("a task that throws is logged, counted and restarted until it returns", "[supervisor]") {
  asio::io_context io;
  core::metrics::registry m;
  int exit_code = -1;
  core::supervisor sup(io, m, [&](int c) { exit_code = c; });
  int runs = 0;
  auto h = sup.spawn(
      "flaky",
      [&]() -> asio::awaitable<void> {
        ++runs;
        if (runs < 3) throw std::runtime_error("boom " + std::to_string(runs));
        co_return;
      },
      fast_restart());
  io.run();
  CHECK(runs == 3);
  CHECK(h.failures() == 2);
  CHECK(h.status() == core::task_status::ended);
  CHECK(failures_of(m, "flaky") == 2);
  CHECK(exit_code == -1);  // a restartable task never ends the process
  CHECK_FALSE(sup.problem());
  CHECK(m.render().find("pokeflow_task_failures_total{task=\"flaky\"} 2") != std::string::npos);
}

TEST_CASE("readiness names a task while it waits for its restart", "[supervisor]") {
  asio::io_context io;
  core::metrics::registry m;
  core::supervisor sup(io, m, [](int) {});
  core::task_policy slow;
  slow.backoff_initial = 10s;  // long enough to look at it while it waits
  int runs = 0;
  auto h = sup.spawn(
      "relay",
      [&]() -> asio::awaitable<void> {
        ++runs;
        throw std::runtime_error("database gone");
        co_return;
      },
      slow);
  CHECK_FALSE(sup.problem());
  io.run_for(100ms);
  CHECK(runs == 1);
  CHECK(h.status() == core::task_status::restarting);
  REQUIRE(sup.problem());
  CHECK(*sup.problem() == "relay: restarting: database gone");
  // A stop drops the pending restart: the task is finished, not run again.
  sup.stop();
  io.run_for(100ms);
  CHECK(runs == 1);
  CHECK(h.finished());
  CHECK(h.status() == core::task_status::failed);
}

TEST_CASE("a task under on_failure::exit ends the runtime's run with exit code 70", "[supervisor]") {
  core::metrics::registry m;
  core::runtime rt(5s, m);
  int runs = 0;
  auto svc = std::make_shared<one_task_service>(
      rt.tasks(),
      [&]() -> asio::awaitable<void> {
        ++runs;
        throw std::logic_error("invariant broken");
        co_return;
      },
      core::task_policy{core::on_failure::exit});
  rt.add(svc);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(rt.run() == core::exit_task_failed);
  CHECK(core::exit_task_failed == 70);
  CHECK(std::chrono::steady_clock::now() - t0 < 4s);  // a clean stop, not the hard-stop timeout
  CHECK(runs == 1);
  CHECK(failures_of(m, "worker") == 1);
  REQUIRE(rt.tasks().problem());
  CHECK(rt.tasks().problem()->find("worker: failed: invariant broken") != std::string::npos);
}

TEST_CASE("fatal_task_error ends the process even under a restart policy", "[supervisor]") {
  core::metrics::registry m;
  core::runtime rt(5s, m);
  int runs = 0;
  auto svc = std::make_shared<one_task_service>(
      rt.tasks(),
      [&]() -> asio::awaitable<void> {
        ++runs;
        throw core::fatal_task_error("api refused the token (401)");
        co_return;
      },
      fast_restart());
  rt.add(svc);
  CHECK(rt.run() == 70);
  CHECK(runs == 1);  // not restarted
}

TEST_CASE("a task that returns normally is not restarted and leaves readiness green", "[supervisor]") {
  asio::io_context io;
  core::metrics::registry m;
  core::supervisor sup(io, m, [](int) { FAIL("no exit expected"); });
  int runs = 0;
  auto h = sup.spawn("once", [&]() -> asio::awaitable<void> {
    ++runs;
    asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
    co_await t.async_wait(asio::use_awaitable);
  });
  CHECK_FALSE(h.finished());
  io.run();
  CHECK(runs == 1);
  CHECK(h.finished());
  CHECK(h.failures() == 0);
  CHECK_FALSE(sup.problem());
  CHECK(failures_of(m, "once") == 0);
}

TEST_CASE("a role that drains keeps the admin-like component running until it is done", "[supervisor][runtime]") {
  core::metrics::registry m;
  core::runtime rt(5s, m);
  struct draining : core::service {
    asio::steady_timer t;
    bool done = false;
    explicit draining(asio::io_context& io) : t(io) {}
    void run() override {}
    void stop() noexcept override {
      t.expires_after(50ms);
      t.async_wait([this](boost::system::error_code) { done = true; });
    }
    bool stopped() const noexcept override { return done; }
  };
  struct last : core::service {
    const draining& role;
    bool role_done_when_stopped = false;
    bool stopped_ = false;
    explicit last(const draining& r) : role(r) {}
    void run() override {}
    void stop() noexcept override {
      role_done_when_stopped = role.stopped();
      stopped_ = true;
    }
    bool stopped() const noexcept override { return stopped_; }
  };
  auto role = std::make_shared<draining>(rt.io());
  auto admin = std::make_shared<last>(*role);
  rt.add_last(admin);
  rt.add(role);
  rt.request_stop();
  CHECK(rt.stopping());
  CHECK(rt.run() == 0);
  CHECK(admin->stopped_);
  CHECK(admin->role_done_when_stopped);
}
