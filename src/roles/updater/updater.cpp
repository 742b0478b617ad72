#include "roles/updater/updater.hpp"

#include <algorithm>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/http/client.hpp"
#include "core/json/codec.hpp"
#include "core/kafka/consumer.hpp"
#include "core/kafka/lag_metrics.hpp"
#include "core/kafka/producer.hpp"
#include "core/log.hpp"

namespace pokeflow::roles::updater {

namespace asio = boost::asio;
namespace http = core::http;
using namespace std::chrono_literals;

namespace {
// What one state message came to.
enum class outcome { done, dead_letter, retry };
}  // namespace

struct updater::impl : std::enable_shared_from_this<impl> {
  core::role_context ctx;
  updater_config cfg;
  kafka_config kafka;
  std::unique_ptr<core::kafka::consumer> consumer;
  std::unique_ptr<core::kafka::producer> producer;  // dead letters only
  http::client client;
  bool stopping = false;
  bool done = false;
  std::vector<std::shared_ptr<asio::steady_timer>> sleepers;

  core::metrics::counter& consumed;
  core::metrics::counter& applied;
  core::metrics::counter& dead_lettered;
  core::metrics::counter& retried;

  impl(core::role_context c, updater_config u, kafka_config k)
      : ctx(c),
        cfg(std::move(u)),
        kafka(std::move(k)),
        client(ctx.io, cfg.api_url, http::client_options{static_cast<std::size_t>(cfg.concurrency), 1u << 20}),
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
      if (r.ok()) {
        if (r.status == 200 || r.status == 409) {
          ctx.log.debug("decision applied",
                        {{"order_id", o.id}, {"state", to_string(o.state)}, {"status", static_cast<int>(r.status)}});
          co_return outcome::done;
        }
        if (r.status == 404 || r.status == 422) {
          error = "api answered " + std::to_string(r.status) + ": " + r.body;
          co_return outcome::dead_letter;
        }
        // 401/403 (token mismatch), 5xx, 503 (database down): not the message's fault, retry.
        ctx.log.warn("api refused the update, will retry",
                     {{"order_id", o.id}, {"status", static_cast<int>(r.status)}, {"body", r.body}});
      } else {
        ctx.log.warn("api unreachable, will retry", {{"order_id", o.id}, {"error", r.ec.message()}});
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
      retried.inc();
      co_await sleep(delay);
      delay = std::min<std::chrono::milliseconds>(delay * 2, 5s);
    }
    co_return false;
  }

  // One partition's messages in order; returns the next offset to commit (or -1 for none).
  asio::awaitable<std::int64_t> run_partition(std::vector<const core::kafka::message*> msgs) {
    std::int64_t next = -1;
    for (const auto* m : msgs) {
      std::string error;
      auto r = co_await apply(*m, error);
      if (r == outcome::retry) break;
      if (r == outcome::dead_letter && !co_await dead_letter(*m, error)) break;
      if (r == outcome::done) applied.inc();
      next = m->offset + 1;
    }
    co_return next;
  }

  void update_lag() { core::kafka::export_lag(ctx.metrics, cfg.group, consumer->lag()); }

  asio::awaitable<void> loop() {
    auto self = shared_from_this();
    try {
      consumer->on_rebalance([this](const core::kafka::rebalance_event& ev) {
        if (ev.what != core::kafka::rebalance_event::kind::assigned)
          core::kafka::clear_lag(ctx.metrics, cfg.group, ev.partitions);
        ctx.log.info("rebalance",
                     {{"event", ev.what == core::kafka::rebalance_event::kind::assigned ? "assigned" : "revoked"},
                      {"partitions", static_cast<std::int64_t>(ev.partitions.size())}});
      });
      consumer->subscribe({kafka.states_topic});
      ctx.log.info("updater started", {{"topic", kafka.states_topic}, {"group", cfg.group}, {"api", cfg.api_url}});
      while (!stopping) {
        auto batch = co_await consumer->next_batch(500, 250ms);
        update_lag();
        if (batch.empty()) continue;
        consumed.inc(static_cast<double>(batch.size()));
        // Per-order ordering holds because an order's messages share a key, hence a partition,
        // and each partition is applied sequentially; partitions proceed concurrently.
        std::map<core::kafka::topic_partition, std::vector<const core::kafka::message*>> by_partition;
        for (const auto& m : batch) by_partition[{m.topic, m.partition}].push_back(&m);
        std::vector<std::pair<core::kafka::topic_partition, std::int64_t>> results;
        int running = 0;
        auto all_done = std::make_shared<asio::steady_timer>(ctx.io, asio::steady_timer::time_point::max());
        for (auto& [tp, msgs] : by_partition) {
          ++running;
          asio::co_spawn(
              ctx.io,
              [this, tp, msgs, &results, &running, all_done]() -> asio::awaitable<void> {
                auto next = co_await run_partition(msgs);
                results.emplace_back(tp, next);
                if (--running == 0) all_done->cancel();
              },
              asio::detached);
        }
        boost::system::error_code ec;
        while (running > 0) co_await all_done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        std::vector<core::kafka::consumer::offset> offsets;
        for (const auto& [tp, next] : results)
          if (next >= 0) offsets.push_back({tp.topic, tp.partition, next});
        if (!offsets.empty()) {
          if (auto err = co_await consumer->commit(offsets))
            ctx.log.warn("offset commit failed", {{"error", err->message}});
        }
      }
    } catch (const std::exception& e) {
      ctx.log.error("updater loop failed", {{"error", e.what()}});
      ctx.request_exit(1);
    }
    co_await consumer->close(5s);
    co_await producer->flush(5s);
    client.close();
    done = true;
    ctx.log.info("updater stopped", {});
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

void updater::run() { asio::co_spawn(impl_->ctx.io, impl_->loop(), asio::detached); }

void updater::stop() noexcept {
  impl_->stopping = true;
  for (auto& t : impl_->sleepers) t->cancel();
}

bool updater::stopped() const noexcept { return impl_->done; }

}  // namespace pokeflow::roles::updater
