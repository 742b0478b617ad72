#include "roles/api/transition_batcher.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/pg/array_literal.hpp"
#include "core/pg/pool.hpp"
#include "roles/api/order_row.hpp"
#include "roles/api/sql.hpp"

namespace pokeflow::roles::api {

namespace {
const core::log::logger api_log{"api"};
}  // namespace

namespace asio = boost::asio;
namespace pg = core::pg;

struct transition_batcher::pending {
  explicit pending(asio::io_context& io) : done(io, asio::steady_timer::time_point::max()) {}
  std::int64_t id = 0;
  order_state target = order_state::success;
  int attempts = 0;
  std::optional<transition_verdict> verdict;
  std::optional<order> current;
  pg::result error;
  bool stale = false;       // met a concurrent writer in its last run: run it again
  bool contended = false;   // stale max_attempts times
  bool abandoned = false;   // the waiter is gone: do not start it
  asio::steady_timer done;  // cancelled when finished
  bool finished() const noexcept { return verdict.has_value() || !error.ok() || contended; }
};

transition_batcher::transition_batcher(asio::io_context& io, pg::pool& pool, core::metrics::registry& metrics,
                                       options opts)
    : io_(io),
      pool_(pool),
      opts_(opts),
      batch_size_(metrics.get_histogram("pokeflow_transition_batch_orders",
                                        "Guarded transitions (PUT /orders/{id}) per UPDATE statement", {},
                                        {1, 2, 4, 8, 16, 32, 64, 128, 256})),
      split_batches_(metrics.get_counter("pokeflow_transition_batches_split_total",
                                         "Transition batches refused for a non-transient reason and run again "
                                         "request by request")),
      task_failures_(metrics.get_counter("pokeflow_api_task_failures_total",
                                         "Exceptions caught in the api's background tasks",
                                         {{"task", "transition_batch"}})) {
  if (opts_.max_flushers < 1) opts_.max_flushers = 1;
  if (opts_.max_batch < 1) opts_.max_batch = 1;
  if (opts_.max_attempts < 1) opts_.max_attempts = 1;
}

void transition_batcher::start_flusher() {
  if (flushers_ >= opts_.max_flushers) return;
  ++flushers_;
  asio::co_spawn(io_, flush(), asio::detached);  // flush() lets no exception out
}

asio::awaitable<transition_result> transition_batcher::submit(std::int64_t id, order_state target) {
  auto p = std::make_shared<pending>(io_);
  p->id = id;
  p->target = target;
  queue_.push_back(p);
  start_flusher();
  struct abandon_on_exit {
    pending& p;
    ~abandon_on_exit() { p.abandoned = true; }
  } guard{*p};
  boost::system::error_code ec;
  while (!p->finished()) co_await p->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  transition_result out;
  out.verdict = p->verdict;
  out.current = std::move(p->current);
  out.error = p->error;
  out.contended = p->contended;
  co_return out;
}

std::vector<std::shared_ptr<transition_batcher::pending>> transition_batcher::take_batch() {
  std::erase_if(queue_, [](const auto& p) { return p->abandoned; });
  std::vector<std::int64_t> ids;
  ids.reserve(queue_.size());
  for (const auto& p : queue_) ids.push_back(p->id);
  auto picked = pick_distinct(ids, in_flight_, opts_.max_batch);
  std::vector<std::shared_ptr<pending>> batch;
  batch.reserve(picked.size());
  for (auto i : picked) batch.push_back(queue_[i]);
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(*it));
  for (const auto& p : batch) in_flight_.insert(p->id);
  return batch;
}

asio::awaitable<void> transition_batcher::flush() {
  auto self = shared_from_this();
  while (true) {
    // Requests whose order is in another flusher's batch stay queued: that flusher takes
    // them when it comes back here.
    auto batch = take_batch();
    if (batch.empty()) break;
    try {
      co_await write(batch);
    } catch (const std::exception& e) {
      task_failures_.inc();
      api_log.error("writing a batch of transitions failed",
                    {{"orders", static_cast<std::int64_t>(batch.size())}, {"error", e.what()}});
    } catch (...) {
      task_failures_.inc();
      api_log.error("writing a batch of transitions failed", {{"orders", static_cast<std::int64_t>(batch.size())}});
    }
    std::vector<std::shared_ptr<pending>> again;
    for (auto& p : batch) {
      in_flight_.erase(p->id);
      if (p->stale && !p->finished()) {
        if (++p->attempts < opts_.max_attempts && !p->abandoned) {
          again.push_back(p);
          continue;
        }
        p->contended = true;
      }
      // Every waiter completes, whatever happened above.
      if (!p->finished()) p->error = pg::result::failure(pg::error_kind::other, "internal error applying the state");
      p->done.cancel();
    }
    // Run again first: it met a writer that has committed by now.
    for (auto it = again.rbegin(); it != again.rend(); ++it) queue_.push_front(*it);
  }
  --flushers_;
}

asio::awaitable<void> transition_batcher::write(std::vector<std::shared_ptr<pending>>& batch) {
  auto r = co_await run(batch);
  if (r.ok() || !retry_one_by_one(r.kind(), batch.size())) co_return;
  split_batches_.inc();
  api_log.warn("a batch of state changes was refused; running them one by one",
               {{"orders", static_cast<std::int64_t>(batch.size())}, {"sqlstate", r.sqlstate()},
                {"error", r.message()}});
  for (auto& p : batch) co_await run(std::span<const std::shared_ptr<pending>>(&p, 1));
}

// One statement for the whole span; sets each request's verdict (or error, or stale) and
// returns the statement's result.
asio::awaitable<pg::result> transition_batcher::run(std::span<const std::shared_ptr<pending>> batch) {
  std::vector<std::string> ids, states;
  for (const auto& b : batch) {
    b->verdict.reset();
    b->current.reset();
    b->error = pg::result{};
    b->stale = false;
    ids.push_back(std::to_string(b->id));
    states.push_back(to_string(b->target));
  }
  std::vector<pg::param> args;
  args.emplace_back(pg::array_literal(ids));
  args.emplace_back(pg::array_literal(states));
  auto c = co_await pool_.acquire();
  if (!c) {
    for (const auto& b : batch) b->error = c.error();
    co_return c.error();
  }
  batch_size_.observe(static_cast<double>(batch.size()));  // every statement, refused ones too
  auto r = co_await c->query(sql::transition_batch, std::move(args));
  c.release();
  if (!r) {
    for (const auto& b : batch) b->error = r;
    co_return r;
  }
  std::vector<std::int64_t> ordinals;
  ordinals.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) ordinals.push_back(r.get_int(i, "ord"));
  auto m = map_batch_rows(ordinals, batch.size(), true);
  if (!m.problems.empty())
    api_log.error("a transition batch returned rows that do not match its requests",
                  {{"orders", static_cast<std::int64_t>(batch.size())}, {"rows", r.rows()},
                   {"first_problem", m.problems.front()}});
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& b = *batch[i];
    if (!m.row_of[i]) {
      // No row is "no such order" only when the result is otherwise sound.
      if (m.problems.empty()) b.verdict = transition_verdict::not_found;
      else b.error = pg::result::failure(pg::error_kind::other, "the batch's result has no single row for this order");
      continue;
    }
    auto o = order_from_row(r, *m.row_of[i]);
    auto v = judge_transition(true, r.get(*m.row_of[i], "applied") == "t", o.state, b.target);
    if (v == transition_verdict::stale) {
      b.stale = true;
      continue;
    }
    b.verdict = v;
    b.current = std::move(o);
  }
  co_return r;
}

}  // namespace pokeflow::roles::api
