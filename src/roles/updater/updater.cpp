#include "roles/updater/updater.hpp"

#include <algorithm>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/http/client.hpp"
#include "core/json/codec.hpp"
#include "core/kafka/consumer.hpp"
#include "core/kafka/lag_metrics.hpp"
#include "core/kafka/producer.hpp"
#include "core/log.hpp"
#include "core/kafka/commit_plan.hpp"
#include "roles/updater/key_window.hpp"
#include "roles/updater/outcome.hpp"

namespace pokeflow::roles::updater {

namespace asio = boost::asio;
namespace http = core::http;
using namespace std::chrono_literals;

struct updater::impl : std::enable_shared_from_this<impl> {
  core::role_context ctx;
  updater_config cfg;
  kafka_config kafka;
  std::unique_ptr<core::kafka::consumer> consumer;
  std::unique_ptr<core::kafka::producer> producer;  // dead letters only
  http::client client;
  bool stopping = false;
  bool done = false;
  core::task_handle task;
  std::vector<std::shared_ptr<asio::steady_timer>> sleepers;
  key_window window;  // which consumed decisions may run, which offsets are finished
  std::map<key_window::seq_t, std::shared_ptr<const core::kafka::message>> inbox;  // tracked, not finished
  core::kafka::commit_pacer pacer;    // finished offsets not committed yet
  std::size_t finished_uncounted = 0;  // finished since the last pacer.record
  asio::steady_timer progress{ctx.io};  // cancelled whenever a decision finishes
  std::exception_ptr failure;           // the first decision task that threw

  core::metrics::counter& consumed;
  core::metrics::counter& applied;
  core::metrics::counter& dead_lettered;
  core::metrics::counter& retried;

  impl(core::role_context c, updater_config u, kafka_config k)
      : ctx(c),
        cfg(std::move(u)),
        kafka(std::move(k)),
        client(ctx.io, cfg.api_url, http::client_options{static_cast<std::size_t>(cfg.concurrency), 1u << 20}),
        window(static_cast<std::size_t>(cfg.window), static_cast<std::size_t>(cfg.concurrency)),
        pacer(kafka.commit_interval, static_cast<std::size_t>(kafka.commit_every)),
        consumed(ctx.metrics.get_counter("pokeflow_messages_consumed_total", "Kafka messages consumed",
                                         {{"role", "updater"}, {"topic", kafka.states_topic}})),
        applied(ctx.metrics.get_counter("pokeflow_updates_applied_total",
                                        "Decisions applied through the api (200 or 409)")),
        dead_lettered(ctx.metrics.get_counter("pokeflow_messages_dlq_total", "Poison messages moved to the DLQ",
                                              {{"role", "updater"}, {"topic", kafka.states_topic}})),
        retried(ctx.metrics.get_counter("pokeflow_messages_retried_total",
                                        "Attempts retried after a transient error", {{"role", "updater"}})) {
    core::kafka::consumer_options opts;
    opts.group_id = cfg.group;
    consumer = std::make_unique<core::kafka::consumer>(ctx.io, kafka, opts);
    core::kafka::producer_options popts;
    popts.client_id = "pokeflow-updater";
    popts.linger = kafka.linger;
    producer = std::make_unique<core::kafka::producer>(ctx.io, kafka, popts);
  }

  asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    auto t = std::make_shared<asio::steady_timer>(ctx.io, d);
    sleepers.push_back(t);
    boost::system::error_code ec;
    co_await t->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::erase(sleepers, t);
  }

  // Applies one decision; retries transient failures itself until done, dead-lettered, or stopping.
  asio::awaitable<outcome> apply(const core::kafka::message& m, std::string& error) {
    auto decoded = core::json::decode_order_message(m.value, true);
    if (auto* err = std::get_if<std::string>(&decoded)) {
      error = *err;
      co_return outcome::dead_letter;
    }
    const auto& o = std::get<order>(decoded);
    std::string body = std::string("{\"state\":\"") + to_string(o.state) + "\"}";
    http::header_map headers;
    headers.emplace("Authorization", "Bearer " + cfg.token);
    auto delay = 100ms;
    while (!stopping) {
      auto r = co_await client.request("PUT", "/orders/" + std::to_string(o.id), body, headers, 5s);
      const int status = r.ok() ? static_cast<int>(r.status) : 0;
      switch (outcome_of(status)) {
        case outcome::done:
          ctx.log.debug("decision applied", {{"order_id", o.id}, {"state", to_string(o.state)}, {"status", status}});
          co_return outcome::done;
        case outcome::dead_letter:
          error = "api answered " + std::to_string(status) + ": " + r.body;
          co_return outcome::dead_letter;
        case outcome::retry:
          if (status == 0)
            ctx.log.warn("api unreachable, will retry", {{"order_id", o.id}, {"error", r.ec.message()}});
          else
            ctx.log.warn("api refused the update, will retry",
                            {{"order_id", o.id}, {"status", status}, {"body", r.body}});
          break;
        case outcome::fatal:
          // Every message would get the same answer (a token the api does not accept, an api
          // speaking another contract): end the process non-zero, the batch stays uncommitted.
          ctx.log.error("api refused the updater; fix the configuration (--api-token, --api-url)",
                           {{"order_id", o.id}, {"status", status}, {"body", r.body}, {"api", cfg.api_url}});
          throw core::fatal_task_error("api at " + cfg.api_url + " answered " + std::to_string(status) +
                                       " to PUT /orders/" + std::to_string(o.id) + ": " + r.body);
      }
      retried.inc();
      co_await sleep(delay);
      delay = std::min<std::chrono::milliseconds>(delay * 2, 5s);
    }
    co_return outcome::retry;
  }

  asio::awaitable<bool> dead_letter(const core::kafka::message& m, const std::string& error) {
    ctx.log.warn("moving message to the dead-letter topic",
                    {{"topic", m.topic}, {"partition", m.partition}, {"offset", m.offset}, {"error", error}});
    auto delay = 100ms;
    while (!stopping) {
      std::vector<core::kafka::header> headers;
      headers.push_back({"pokeflow-source-topic", m.topic});
      headers.push_back({"pokeflow-source-partition", std::to_string(m.partition)});
      headers.push_back({"pokeflow-source-offset", std::to_string(m.offset)});
      headers.push_back({"pokeflow-error", error});
      headers.push_back({"pokeflow-role", "updater"});
      auto d = co_await producer->produce(kafka.dlq_topic, core::kafka::unassigned_partition, m.key.value_or(""),
                                          m.value, std::move(headers));
      if (d.ok()) {
        dead_lettered.inc();
        co_return true;
      }
      if (auto fatal = producer->fatal_error())
        throw core::fatal_task_error("kafka producer unusable: " + fatal->message);
      retried.inc();
      co_await sleep(delay);
      delay = std::min<std::chrono::milliseconds>(delay * 2, 5s);
    }
    co_return false;
  }

  // One decision: applied (or dead-lettered) is done; false when it gave up (stopping).
  asio::awaitable<bool> handle(const core::kafka::message& m) {
    std::string error;
    auto r = co_await apply(m, error);
    if (r == outcome::retry) co_return false;
    if (r == outcome::dead_letter && !co_await dead_letter(m, error)) co_return false;
    if (r == outcome::done) applied.inc();
    co_return true;
  }

  // Starts every message the window allows now; each reports back through finished().
  void start_ready() {
    for (auto seq : window.startable()) {
      auto it = inbox.find(seq);
      if (it == inbox.end()) {  // cannot happen: a startable ticket is tracked
        window.finish(seq, false);
        continue;
      }
      auto m = it->second;
      asio::co_spawn(ctx.io, handle(*m), [this, seq, m](std::exception_ptr e, bool ok) {
        // A task that threw fails the loop (supervised: exit 70) once every sibling is back;
        // the rest stop retrying, and nothing past it is committed.
        if (e) {
          if (!failure) failure = e;
          stopping = true;
          for (auto& t : sleepers) t->cancel();
        }
        window.finish(seq, ok && !e);
        if (ok && !e) ++finished_uncounted;
        inbox.erase(seq);
        if (!stopping) start_ready();
        progress.cancel();
      });
    }
  }

  // Moves finished prefixes to the pacer; commits what is waiting when due (or `now_anyway`).
  asio::awaitable<void> commit_finished(bool now_anyway) {
    auto plan = window.release_prefix();
    if (!plan.empty()) {
      pacer.record(plan, finished_uncounted, core::kafka::commit_pacer::clock::now());
      finished_uncounted = 0;
    }
    // Not fatal: the next commit carries them again; meanwhile a crash re-delivers them, and
    // the api answers a repeated decision 200 (already in that state) or 409 (never a flip).
    if (auto err = co_await core::kafka::commit_paced(*consumer, pacer, now_anyway))
      ctx.log.warn("offset commit failed", {{"error", err->message}});
  }

  void update_lag() { core::kafka::export_lag(ctx.metrics, cfg.group, consumer->lag()); }

  asio::awaitable<void> consume() {
    consumer->on_rebalance([this](const core::kafka::rebalance_event& ev) {
      if (ev.what != core::kafka::rebalance_event::kind::assigned) {
        core::kafka::clear_lag(ctx.metrics, cfg.group, ev.partitions);
        // Not ours any more: waiting messages are dropped (the new owner re-reads them from
        // the committed offset); running ones finish, and their result is ignored.
        for (auto seq : window.forget(ev.partitions)) inbox.erase(seq);
        pacer.forget(ev.partitions);
      }
      ctx.log.info("rebalance",
                      {{"event", ev.what == core::kafka::rebalance_event::kind::assigned ? "assigned" : "revoked"},
                       {"partitions", static_cast<std::int64_t>(ev.partitions.size())}});
    });
    consumer->subscribe({kafka.states_topic});
    ctx.log.info("updater started", {{"topic", kafka.states_topic}, {"group", cfg.group}, {"api", cfg.api_url},
                                     {"concurrency", cfg.concurrency}, {"window", cfg.window}});
    boost::system::error_code ec;
    std::exception_ptr loop_error;  // the consumer itself failed (fatal Kafka error)
    try {
      while (!stopping) {
        if (window.room() == 0) {
          // The window is full: wait for a message to finish (bounded, to keep committing).
          progress.expires_after(250ms);
          co_await progress.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        } else {
          // While decisions run, poll briefly so finished prefixes are committed on time.
          // (Computed outside the co_await: GCC 12 mishandles a conditional's temporary there.)
          const std::chrono::milliseconds wait = window.running() > 0 ? 20ms : 250ms;
          const std::size_t room = window.room();
          auto batch = co_await consumer->next_batch(room, wait);
          update_lag();
          consumed.inc(static_cast<double>(batch.size()));
          for (auto& m : batch) {
            auto seq = window.admit({m.topic, m.partition}, m.offset, m.key.value_or(""));
            inbox.emplace(seq, std::make_shared<core::kafka::message>(std::move(m)));
          }
          start_ready();
        }
        if (!stopping) co_await commit_finished(false);
      }
    } catch (...) {
      loop_error = std::current_exception();
      stopping = true;
      for (auto& t : sleepers) t->cancel();
    }
    // Every running decision comes back (they stop retrying) before the loop ends.
    while (window.running() > 0) {
      progress.expires_after(250ms);
      co_await progress.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    // The decision tasks point into this object: none may outlive the loop.
    if (loop_error) std::rethrow_exception(loop_error);
    if (failure) std::rethrow_exception(failure);
    co_await commit_finished(true);  // a clean stop commits what finished
  }

  // Supervised with on_failure::exit: a failure leaves the group without committing what is
  // in hand, and a fresh process re-reads from the committed offsets.
  asio::awaitable<void> loop() {
    auto self = shared_from_this();
    std::exception_ptr error;
    try {
      co_await consume();
    } catch (...) {
      error = std::current_exception();
    }
    co_await consumer->close(5s);
    co_await producer->flush(5s);
    client.close();
    done = true;
    ctx.log.info("updater stopped", {});
    if (error) std::rethrow_exception(error);
  }
};

updater::updater(core::role_context ctx, updater_config cfg, kafka_config kafka)
    : impl_(std::make_shared<impl>(ctx, std::move(cfg), std::move(kafka))) {
  auto* p = impl_.get();
  ctx.add_readiness("kafka", [p]() -> asio::awaitable<std::optional<std::string>> {
    co_return co_await p->consumer->ping();
  });
  ctx.add_readiness("api", [p]() -> asio::awaitable<std::optional<std::string>> {
    auto r = co_await p->client.request("GET", "/orders?limit=1", std::string(), http::header_map(), 2s);
    if (!r.ok()) co_return "api at " + p->cfg.api_url + ": " + r.ec.message();
    if (r.status != 200) co_return "api at " + p->cfg.api_url + " answered " + std::to_string(r.status);
    co_return std::nullopt;
  });
}

updater::~updater() = default;

void updater::run() {
  impl_->task = impl_->ctx.tasks.spawn(
      "updater", [p = impl_] { return p->loop(); }, core::task_policy{core::on_failure::exit});
}

void updater::stop() noexcept {
  impl_->stopping = true;
  impl_->progress.cancel();
  for (auto& t : impl_->sleepers) t->cancel();
}

bool updater::stopped() const noexcept { return impl_->done || impl_->task.finished(); }

}  // namespace pokeflow::roles::updater
