#include "roles/loadgen/loadgen.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <set>
#include <variant>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/http/client.hpp"
#include "core/json/codec.hpp"
#include "core/log.hpp"
#include "pokeflow/errors.hpp"
#include "roles/loadgen/histogram.hpp"
#include "core/ledger.hpp"
#include "roles/loadgen/orders.hpp"
#include "roles/loadgen/pacing.hpp"
#include "roles/loadgen/summary.hpp"

using namespace pokeflow::core::ledger;  // the ledger format shared by loadgen and verify

namespace pokeflow::roles::loadgen {
namespace asio = boost::asio;
using asio::awaitable;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {
// A request slower than this counts as a timeout error (and stays latency-less).
constexpr auto request_timeout = 10s;
// After stop(), answers in flight get this long before the summary is written.
constexpr auto stop_grace = 2s;

std::string error_kind(const boost::system::error_code& ec) {
  namespace e = asio::error;
  if (ec == e::timed_out) return "timeout";
  if (ec == e::connection_refused || ec == e::host_not_found || ec == e::host_not_found_try_again ||
      ec == e::host_unreachable || ec == e::network_unreachable || ec == e::connection_aborted)
    return "connect";
  if (ec == e::eof || ec == e::connection_reset || ec == e::broken_pipe) return "closed";
  return "io";
}
}  // namespace

struct loadgen::impl : std::enable_shared_from_this<impl> {
  impl(core::role_context c, loadgen_config g)
      : ctx(std::move(c)),
        cfg(std::move(g)),
        client(ctx.io, cfg.api_url, core::http::client_options{static_cast<std::size_t>(std::max(1, cfg.connections))}),
        factory(load_list(cfg.pokemon_file), load_list(cfg.countries_file), std::random_device{}()),
        wake(ctx.io),
        progress_timer(ctx.io),
        acked_metric(ctx.metrics.get_counter("pokeflow_loadgen_orders_total", "Orders sent by loadgen by outcome",
                                             {{"outcome", "acknowledged"}})),
        failed_metric(ctx.metrics.get_counter("pokeflow_loadgen_orders_total", "Orders sent by loadgen by outcome",
                                              {{"outcome", "error"}})),
        latency_metric(ctx.metrics.get_histogram("pokeflow_loadgen_latency_seconds",
                                                 "POST /orders latency from the intended send time")) {
    if (cfg.rate < 0) throw std::invalid_argument("--rate must be >= 0");
    if (cfg.user_ids.empty()) throw std::invalid_argument("--user-ids: at least one user id is needed");
    if (!cfg.ledger.empty()) ledger.emplace(cfg.ledger);
    if (!cfg.summary_json.empty()) {
      std::ofstream probe(cfg.summary_json, std::ios::app);
      if (!probe) throw std::runtime_error("--summary-json " + cfg.summary_json + ": cannot write");
    }
    sum.model = cfg.rate > 0 ? "open" : "closed";
    sum.target_rate = cfg.rate;
    sum.planned = cfg.rate > 0 ? planned_orders(cfg.duration, cfg.rate)
                               : std::uint64_t(cfg.users) * std::uint64_t(cfg.orders_per_user);
    sum.ledger = cfg.ledger;
    user_pick = std::uniform_int_distribution<std::size_t>(0, cfg.user_ids.size() - 1);
  }

  core::role_context ctx;
  loadgen_config cfg;
  core::http::client client;
  order_factory factory;
  std::optional<ledger_writer> ledger;
  asio::steady_timer wake;  // cancelled whenever something the dispatcher waits for happens
  asio::steady_timer progress_timer;
  std::set<asio::steady_timer*> sleepers;  // cancelled by stop()
  core::metrics::counter& acked_metric;
  core::metrics::counter& failed_metric;
  core::metrics::histogram& latency_metric;
  std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> user_pick;

  summary sum;
  std::uint64_t in_flight = 0;
  steady::time_point start;
  std::int64_t start_epoch_us = 0;
  steady::time_point last_answer;
  steady::time_point last_send;
  bool stopping = false;
  bool done = false;
  bool ledger_failed = false;

  std::int64_t epoch_us(steady::time_point t) const {
    return start_epoch_us + std::chrono::duration_cast<std::chrono::microseconds>(t - start).count();
  }

  // Sleeps until t; false if stop() interrupted it.
  awaitable<bool> sleep_until(steady::time_point t) {
    if (stopping) co_return false;
    asio::steady_timer timer(ctx.io, t);
    sleepers.insert(&timer);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    sleepers.erase(&timer);
    co_return !stopping;
  }

  // Waits until the next completion (or stop, or t).
  awaitable<void> wait_event(steady::time_point t = steady::time_point::max()) {
    wake.expires_at(t);
    boost::system::error_code ec;
    co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  void note_error(const std::string& kind) {
    ++sum.errors[kind];
    failed_metric.inc();
  }

  awaitable<void> send_one(steady::time_point intended, std::int64_t user_id) {
    auto self = shared_from_this();
    ++in_flight;
    ++sum.sent;
    auto o = factory.make(user_id);
    auto sent = steady::now();
    last_send = sent;
    auto res = co_await client.request("POST", "/orders", order_body(o), {}, request_timeout);
    auto answered = steady::now();
    last_answer = answered;
    --in_flight;
    wake.cancel();
    if (!res.ok()) {
      note_error(error_kind(res.ec));
      co_return;
    }
    if (res.status != 201) {
      note_error("http_" + std::to_string(res.status));
      co_return;
    }
    auto decoded = core::json::decode_order_message(res.body, false);
    auto* stored = std::get_if<order>(&decoded);
    if (!stored || stored->id <= 0) {
      note_error("bad_response");
      co_return;
    }
    ++sum.acknowledged;
    acked_metric.inc();
    auto latency = std::chrono::duration_cast<std::chrono::microseconds>(answered - intended);
    sum.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, latency.count())));
    latency_metric.observe(std::chrono::duration<double>(latency).count());
    if (ledger && !ledger_failed) {
      ledger->append({stored->id, o.user_id, o.pokemon, o.country, o.price, epoch_us(intended), epoch_us(sent),
                      epoch_us(answered)});
    }
  }

  awaitable<void> open_model() {
    auto self = shared_from_this();
    const std::uint64_t n_total = sum.planned;
    const std::uint64_t max_in_flight = std::max<std::uint64_t>(1000, std::uint64_t(cfg.connections) * 100);
    std::uint64_t n = 0;
    for (; n < n_total && !stopping; ++n) {
      auto t = intended_time(start, n, cfg.rate);
      if (steady::now() < t && !co_await sleep_until(t)) break;
      // Past the cap we fall behind schedule, but latency still counts from the intended
      // time, so the backlog shows up as latency rather than as a lower offered rate.
      while (in_flight >= max_in_flight && !stopping) co_await wait_event();
      if (stopping) break;
      asio::co_spawn(ctx.io, send_one(t, cfg.user_ids[user_pick(rng)]), asio::detached);
    }
    // The schedule's own span (n orders take n / rate), also when stop() cut it short.
    sum.send_window_s = double(n) / cfg.rate;
  }

  awaitable<void> user(int index) {
    auto self = shared_from_this();
    auto user_id = cfg.user_ids[std::size_t(index) % cfg.user_ids.size()];
    for (int i = 0; i < cfg.orders_per_user && !stopping; ++i) {
      if (i > 0 && cfg.delay.count() > 0 && !co_await sleep_until(steady::now() + cfg.delay)) break;
      co_await send_one(steady::now(), user_id);
    }
  }

  awaitable<void> closed_model() {
    auto self = shared_from_this();
    auto users_left = std::make_shared<int>(cfg.users);
    for (int u = 0; u < cfg.users; ++u)
      asio::co_spawn(ctx.io, user(u), [this, self, users_left](std::exception_ptr) {
        --*users_left;
        wake.cancel();
      });
    // After stop() the users still waiting for an answer are left to the drain's grace period.
    while (*users_left > 0 && !stopping) co_await wait_event();
    sum.send_window_s = std::chrono::duration<double>(last_send - start).count();
  }

  awaitable<void> main() {
    auto self = shared_from_this();
    if (cfg.initial_delay.count() > 0) co_await sleep_until(steady::now() + cfg.initial_delay);
    start = steady::now();
    start_epoch_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    last_answer = last_send = start;
    ctx.log.info("loadgen started", {{"model", sum.model},
                                     {"planned", static_cast<std::int64_t>(sum.planned)},
                                     {"rate", cfg.rate},
                                     {"api_url", cfg.api_url}});
    asio::co_spawn(ctx.io, progress(), asio::detached);
    if (!stopping) {
      if (cfg.rate > 0)
        co_await open_model();
      else
        co_await closed_model();
    }
    // Drain: every answer, or after stop() at most stop_grace more.
    auto grace_end = steady::time_point::max();
    while (in_flight > 0) {
      if (stopping && grace_end == steady::time_point::max()) grace_end = steady::now() + stop_grace;
      if (steady::now() >= grace_end) break;
      co_await wait_event(grace_end);
    }
    finish();
  }

  awaitable<void> progress() {
    auto self = shared_from_this();
    std::uint64_t last_acked = 0;
    auto last = steady::now();
    while (!done) {
      progress_timer.expires_after(1s);
      boost::system::error_code ec;
      co_await progress_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (done) break;
      auto now = steady::now();
      double rate = double(sum.acknowledged - last_acked) / std::chrono::duration<double>(now - last).count();
      last_acked = sum.acknowledged;
      last = now;
      std::fprintf(stderr, "loadgen: %6.1fs sent %llu acked %llu (%.1f/s) errors %llu in flight %llu p99 %.2f ms\n",
                   std::chrono::duration<double>(now - start).count(), (unsigned long long)sum.sent,
                   (unsigned long long)sum.acknowledged, rate, (unsigned long long)sum.error_count(),
                   (unsigned long long)in_flight, double(sum.latency.percentile(99)) / 1000.0);
      flush_ledger();
    }
  }

  void flush_ledger() noexcept {
    if (!ledger || ledger_failed) return;
    try {
      ledger->flush();
    } catch (const std::exception& e) {
      ledger_failed = true;
      ctx.log.error("ledger write failed; no more ledger lines", {{"error", e.what()}});
    }
  }

  void finish() noexcept {
    if (done) return;
    done = true;
    progress_timer.cancel();
    flush_ledger();
    sum.stopped_early = stopping;
    sum.elapsed_s = std::chrono::duration<double>(std::max(last_answer, last_send) - start).count();
    if (in_flight > 0) sum.errors["unanswered_at_stop"] += in_flight;
    std::cerr << to_table(sum) << std::flush;
    auto json = to_json(sum);
    std::cout << json << std::endl;
    if (!cfg.summary_json.empty()) {
      std::ofstream out(cfg.summary_json, std::ios::trunc);
      out << json << "\n";
      if (!out) ctx.log.error("cannot write the summary", {{"path", cfg.summary_json}});
    }
    ctx.log.info("loadgen finished", {{"acknowledged", static_cast<std::int64_t>(sum.acknowledged)},
                                      {"errors", static_cast<std::int64_t>(sum.error_count())}});
    client.close();
    if (ctx.request_exit) ctx.request_exit(sum.acknowledged > 0 && !ledger_failed ? 0 : 1);
  }

  void begin_stop() {
    if (stopping) return;
    stopping = true;
    for (auto* t : sleepers) t->cancel();
    wake.cancel();
  }
};

namespace {
std::shared_ptr<loadgen::impl> make_impl(core::role_context ctx, loadgen_config cfg) {
  try {
    return std::make_shared<loadgen::impl>(std::move(ctx), std::move(cfg));
  } catch (const std::exception& e) {
    // A missing list, an unwritable ledger or a bad URL is a setup mistake: exit 2 like a bad flag.
    throw config_error(std::string("loadgen: ") + e.what());
  }
}
}  // namespace

loadgen::loadgen(core::role_context ctx, loadgen_config cfg) : impl_(make_impl(std::move(ctx), std::move(cfg))) {}

loadgen::~loadgen() = default;

void loadgen::run() {
  auto self = impl_;
  asio::co_spawn(impl_->ctx.io, impl_->main(), [self](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      self->ctx.log.error("loadgen failed", {{"error", ex.what()}});
    }
    self->finish();
  });
}

void loadgen::stop() noexcept {
  auto self = impl_;
  asio::post(impl_->ctx.io, [self] { self->begin_stop(); });
}

bool loadgen::stopped() const noexcept { return impl_->done; }

}  // namespace pokeflow::roles::loadgen
