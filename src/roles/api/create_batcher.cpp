#include "roles/api/create_batcher.hpp"

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/pg/array_literal.hpp"
#include "core/pg/pool.hpp"
#include "roles/api/delivery.hpp"
#include "roles/api/order_row.hpp"
#include "roles/api/sql.hpp"

namespace pokeflow::roles::api {

namespace {
// The api role's own lines carry "role":"api" like the rest of the role's.
const core::log::logger api_log{"api"};
}  // namespace

namespace asio = boost::asio;
namespace pg = core::pg;

struct create_batcher::pending {
  explicit pending(asio::io_context& io) : done(io, asio::steady_timer::time_point::max()) {}
  core::json::new_order in;
  std::optional<order> out;
  pg::result error;             // a failure once the batch failed for this order
  bool abandoned = false;       // the waiter is gone: do not start writing it
  std::chrono::steady_clock::time_point queued_at = std::chrono::steady_clock::now();
  asio::steady_timer done;      // cancelled when out or error is set
  bool finished() const noexcept { return out.has_value() || !error.ok(); }
};


create_batcher::create_batcher(asio::io_context& io, pg::pool& pool, core::metrics::registry& metrics, options opts,
                               std::function<void()> on_written)
    : io_(io),
      pool_(pool),
      opts_(std::move(opts)),
      on_written_(std::move(on_written)),
      orders_created_(metrics.get_counter("pokeflow_orders_created_total", "Orders accepted (201)")),
      batch_size_(metrics.get_histogram("pokeflow_create_batch_orders", "Orders written per INSERT statement", {},
                                        {1, 2, 4, 8, 16, 32, 64, 128, 256})),
      split_batches_(metrics.get_counter("pokeflow_create_batches_split_total",
                                         "Group-commit batches refused for a non-transient reason and written "
                                         "again order by order")),
      task_failures_(metrics.get_counter("pokeflow_api_task_failures_total",
                                         "Exceptions caught in the api's background tasks", {{"task", "create_batch"}})),
      queued_(metrics.get_histogram("pokeflow_create_phase_seconds",
                                    "Where POST /orders spends its time: queued for a batch, waiting for a "
                                    "connection, the INSERT statement with its commit",
                                    {{"phase", "queued"}})),
      acquire_(metrics.get_histogram("pokeflow_create_phase_seconds",
                                     "Where POST /orders spends its time: queued for a batch, waiting for a "
                                     "connection, the INSERT statement with its commit",
                                     {{"phase", "acquire"}})),
      statement_(metrics.get_histogram("pokeflow_create_phase_seconds",
                                       "Where POST /orders spends its time: queued for a batch, waiting for a "
                                       "connection, the INSERT statement with its commit",
                                       {{"phase", "statement"}})) {
  if (opts_.max_flushers < 1) opts_.max_flushers = 1;
  if (opts_.max_batch < 1) opts_.max_batch = 1;
}

asio::awaitable<create_outcome> create_batcher::submit(core::json::new_order in) {
  auto p = std::make_shared<pending>(io_);
  p->in = std::move(in);
  queue_.push_back(p);
  if (flushers_ < opts_.max_flushers) {
    ++flushers_;
    asio::co_spawn(io_, flush(), asio::detached);  // flush() lets no exception out
  }
  // Whatever ends this wait (its batch, or the caller's cancellation), a still-queued order
  // is not written for a client that is gone.
  struct abandon_on_exit {
    pending& p;
    ~abandon_on_exit() { p.abandoned = true; }
  } guard{*p};
  boost::system::error_code ec;
  while (!p->finished()) co_await p->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (p->out) co_return create_outcome{std::move(p->out), {}};
  co_return create_outcome{std::nullopt, p->error};
}

asio::awaitable<void> create_batcher::flush() {
  auto self = shared_from_this();
  while (!queue_.empty()) {
    std::vector<std::shared_ptr<pending>> batch;
    while (!queue_.empty() && batch.size() < opts_.max_batch) {
      auto p = std::move(queue_.front());
      queue_.pop_front();
      if (!p->abandoned) batch.push_back(std::move(p));
    }
    if (batch.empty()) continue;
    const auto started = std::chrono::steady_clock::now();
    for (const auto& p : batch) queued_.observe(std::chrono::duration<double>(started - p->queued_at).count());
    try {
      co_await write(batch);
    } catch (const std::exception& e) {
      task_failures_.inc();
      api_log.error("writing a batch of orders failed", {{"orders", static_cast<std::int64_t>(batch.size())},
                                                            {"error", e.what()}});
    } catch (...) {
      task_failures_.inc();
      api_log.error("writing a batch of orders failed", {{"orders", static_cast<std::int64_t>(batch.size())}});
    }
    // Every waiter completes, whatever happened above.
    for (auto& p : batch) {
      if (!p->finished()) p->error = pg::result::failure(pg::error_kind::other, "internal error writing the order");
      p->done.cancel();
    }
  }
  --flushers_;
}

asio::awaitable<void> create_batcher::write(std::vector<std::shared_ptr<pending>>& batch) {
  auto r = co_await insert(batch);
  if (r.ok() || !retry_one_by_one(r.kind(), batch.size())) co_return;
  split_batches_.inc();
  api_log.warn("a batch of orders was refused; writing them one by one",
                  {{"orders", static_cast<std::int64_t>(batch.size())}, {"sqlstate", r.sqlstate()},
                   {"error", r.message()}});
  for (auto& p : batch) co_await insert(std::span<const std::shared_ptr<pending>>(&p, 1));
}

// One statement for the whole span; sets out or error on each of its orders and returns the
// statement's result.
asio::awaitable<pg::result> create_batcher::insert(std::span<const std::shared_ptr<pending>> batch) {
  std::vector<std::string> users, names, countries, prices;
  for (const auto& b : batch) {
    b->out.reset();
    b->error = pg::result{};
    users.push_back(std::to_string(b->in.user_id));
    names.push_back(b->in.pokemon);
    countries.push_back(b->in.country);
    prices.push_back(pg::param(b->in.price).text().value_or("0"));
  }
  std::vector<pg::param> args;
  std::optional<std::string> unencodable;
  try {
    args.emplace_back(pg::array_literal(users));
    args.emplace_back(pg::array_literal(names));
    args.emplace_back(pg::array_literal(countries));
    args.emplace_back(pg::array_literal(prices));
  } catch (const std::invalid_argument& e) {
    unencodable = e.what();  // a NUL byte the validator let through: this batch, not the api
  }
  if (unencodable) {
    auto f = pg::result::failure(pg::error_kind::invalid, *unencodable);
    for (const auto& b : batch) b->error = f;
    co_return f;  // invalid: write() retries one by one, so only the guilty order fails
  }
  args.emplace_back(opts_.topic);
  const auto t0 = std::chrono::steady_clock::now();
  auto c = co_await pool_.acquire();
  const auto t1 = std::chrono::steady_clock::now();
  acquire_.observe(std::chrono::duration<double>(t1 - t0).count());
  if (!c) {
    for (const auto& b : batch) b->error = c.error();
    co_return c.error();
  }
  auto r = co_await c->query(sql::create_orders, std::move(args));
  c.release();
  statement_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
  if (!r) {
    for (const auto& b : batch) b->error = r;
    co_return r;
  }
  std::vector<std::int64_t> ordinals;
  ordinals.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) ordinals.push_back(r.get_int(i, "ord"));
  auto m = map_batch_rows(ordinals, batch.size());
  if (!m.problems.empty())
    api_log.error("a group-commit batch returned rows that do not match its orders",
                     {{"orders", static_cast<std::int64_t>(batch.size())}, {"rows", r.rows()},
                      {"first_problem", m.problems.front()}});
  std::int64_t created = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (m.row_of[i]) {
      batch[i]->out = order_from_row(r, *m.row_of[i]);
      ++created;
    } else {
      batch[i]->error = pg::result::failure(pg::error_kind::other, "the batch's result has no single row for this order");
    }
  }
  orders_created_.inc(static_cast<double>(created));
  batch_size_.observe(static_cast<double>(batch.size()));
  if (on_written_) on_written_();
  co_return r;
}

}  // namespace pokeflow::roles::api
