#pragma once
// One supervision policy for every spawned task (DESIGN.md, docs/decisions.md): an exception
// that leaves a task is logged, counted in pokeflow_task_failures_total{task=...}, and either
// restarts the task after a backoff or ends the process with exit code 70; while a task is down
// the "tasks" readiness check is red. Nothing escapes to io_context::run().
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/metrics.hpp"

namespace pokeflow::core {

// Exit code of a process ended by a failed task (EX_SOFTWARE in sysexits.h).
inline constexpr int exit_task_failed = 70;

// Thrown by a task for a failure that retrying in-process cannot fix (a fenced idempotent
// producer, a refused token): the process ends with exit_task_failed whatever the policy says.
class fatal_task_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class on_failure {
  restart,  // the task holds no state a restart could lose (database loops, relays)
  exit,     // the task holds state only a fresh process rebuilds (consumer positions)
};

struct task_policy {
  on_failure action = on_failure::restart;
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  // A task that ran this long before failing restarts after backoff_initial again.
  std::chrono::milliseconds healthy_after{30000};
};

// What a supervised task is doing now.
enum class task_status { running, restarting, ended, failed };
const char* to_string(task_status s) noexcept;

// A handle to one supervised task (cheap to copy; valid after the supervisor is gone).
class task_handle {
 public:
  task_handle() = default;
  task_status status() const noexcept;
  // True when the task will not run again: it returned, or failed and is not restarted.
  bool finished() const noexcept;
  std::uint64_t failures() const noexcept;

  struct entry;
  explicit task_handle(std::shared_ptr<const entry> e) : e_(std::move(e)) {}

 private:
  std::shared_ptr<const entry> e_;
};

class supervisor {
 public:
  using task_fn = std::function<boost::asio::awaitable<void>()>;

  // request_exit(code) is called once per fatal failure (the runtime's request_stop).
  supervisor(boost::asio::io_context& io, metrics::registry& metrics, std::function<void(int)> request_exit);
  ~supervisor();
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  // Runs fn() on the io_context under the policy. fn is called again for each restart, so it
  // must build a fresh coroutine. A task that returns normally is finished. Never throws
  // except std::bad_alloc.
  task_handle spawn(std::string name, task_fn fn, task_policy policy = {});

  // From now on a failing task is not restarted (and waiting restarts are dropped).
  void stop() noexcept;

  // nullopt while no task is down; else "<task>: <state>: <last error>" for each that is.
  std::optional<std::string> problem() const;

  struct state;

 private:
  std::shared_ptr<state> st_;
};

// The message of an exception_ptr, for logs ("unknown exception" for a non-std one).
std::string describe_exception(std::exception_ptr e);

}  // namespace pokeflow::core
