#include "roles/fraud/fraud.hpp"

#include <algorithm>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/json/codec.hpp"
#include "core/kafka/commit_plan.hpp"
#include "core/kafka/consumer.hpp"
#include "core/kafka/lag_metrics.hpp"
#include "core/kafka/producer.hpp"
#include "core/log.hpp"
#include "pokeflow/errors.hpp"
#include "core/fraud_rules.hpp"

namespace pokeflow::roles::fraud {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct fraud::impl : std::enable_shared_from_this<impl> {
  core::role_context ctx;
  fraud_config cfg;
  kafka_config kafka;
  fraud_rules rules;
  std::unique_ptr<core::kafka::producer> producer;
  std::unique_ptr<core::kafka::consumer> consumer;
  asio::steady_timer backoff{ctx.io};
  bool stopping = false;
  bool done = false;
  core::task_handle task;
  std::set<core::kafka::topic_partition> revoked;  // since the current batch was fetched
  core::kafka::commit_pacer pacer;                 // finished offsets not committed yet

  core::metrics::counter& consumed;
  core::metrics::counter& produced;
  core::metrics::counter& dead_lettered;
  core::metrics::counter& retried;
  core::metrics::counter& success;
  core::metrics::counter& rejected;

  impl(core::role_context c, fraud_config f, kafka_config k)
      : ctx(c),
        cfg(std::move(f)),
        kafka(std::move(k)),
        pacer(kafka.commit_interval, static_cast<std::size_t>(kafka.commit_every)),
        consumed(ctx.metrics.get_counter("pokeflow_messages_consumed_total", "Kafka messages consumed",
                                         {{"role", "fraud"}, {"topic", kafka.orders_topic}})),
        produced(ctx.metrics.get_counter("pokeflow_messages_produced_total", "Kafka messages produced",
                                         {{"role", "fraud"}, {"topic", kafka.states_topic}})),
        dead_lettered(ctx.metrics.get_counter("pokeflow_messages_dlq_total", "Poison messages moved to the DLQ",
                                              {{"role", "fraud"}, {"topic", kafka.orders_topic}})),
        retried(ctx.metrics.get_counter("pokeflow_messages_retried_total",
                                        "Produce attempts retried after a transient error", {{"role", "fraud"}})),
        success(ctx.metrics.get_counter("pokeflow_fraud_decisions_total", "Fraud decisions",
                                        {{"decision", "success"}})),
        rejected(ctx.metrics.get_counter("pokeflow_fraud_decisions_total", "Fraud decisions",
                                         {{"decision", "rejected"}})) {
    try {
      rules = core::fraud::load_rules(cfg.rules_file);
    } catch (const std::exception& e) {
      throw config_error(std::string("--fraud-rules: ") + e.what());
    }
    core::kafka::producer_options popts;
    popts.linger = kafka.linger;
    producer = std::make_unique<core::kafka::producer>(ctx.io, kafka, popts);
    core::kafka::consumer_options opts;
    opts.group_id = cfg.group;
    consumer = std::make_unique<core::kafka::consumer>(ctx.io, kafka, opts);
  }

  struct pending {
    const core::kafka::message* in;
    std::string key;
    std::string value;
    std::vector<core::kafka::header> headers;
    bool dlq = false;
    bool done = false;
  };

  pending prepare(const core::kafka::message& m) {
    pending p{&m, m.key.value_or(""), {}, {}, false, false};
    auto decoded = core::json::decode_order_message(m.value, false);
    if (auto* err = std::get_if<std::string>(&decoded)) {
      p.dlq = true;
      p.value = m.value;
      p.headers = {{"pokeflow-source-topic", m.topic},
                   {"pokeflow-source-partition", std::to_string(m.partition)},
                   {"pokeflow-source-offset", std::to_string(m.offset)},
                   {"pokeflow-error", *err},
                   {"pokeflow-role", "fraud"}};
      ctx.log.warn("poison message, moving it to the dead-letter topic",
                      {{"topic", m.topic},
                       {"partition", m.partition},
                       {"offset", m.offset},
                       {"error", *err},
                       {"dlq", kafka.dlq_topic}});
      return p;
    }
    auto o = std::get<order>(std::move(decoded));
    o.state = core::fraud::decide(o, rules);
    (o.state == order_state::success ? success : rejected).inc();
    p.key = std::to_string(o.id);
    p.value = core::json::encode_order(o);
    ctx.log.debug("decided", {{"order_id", o.id}, {"state", to_string(o.state)}});
    return p;
  }

  // Produces every decision (or dead letter) of the batch, retrying transient failures with
  // backoff; returns when all are acknowledged or we are stopping.
  asio::awaitable<void> produce_all(std::vector<pending>& items) {
    auto delay = 100ms;
    while (true) {
      std::vector<core::kafka::outgoing> out;
      std::vector<pending*> sent;
      for (auto& p : items) {
        if (p.done) continue;
        out.push_back({p.dlq ? kafka.dlq_topic : kafka.states_topic, core::kafka::unassigned_partition, p.key, p.value,
                       p.headers});
        sent.push_back(&p);
      }
      if (out.empty()) co_return;
      auto results = co_await producer->produce_batch(out);
      int failed = 0;
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i].ok()) {
          sent[i]->done = true;
          if (sent[i]->dlq) {
            dead_lettered.inc();
          } else {
            produced.inc();
          }
        } else {
          ++failed;
          if (failed == 1)
            ctx.log.warn("produce failed, will retry",
                            {{"error", results[i].error->message},
                             {"kind", core::kafka::to_string(results[i].error->kind)},
                             {"pending", static_cast<std::int64_t>(results.size())}});
        }
      }
      if (failed == 0 || stopping) co_return;
      // A fatal producer (idempotence broken, fenced) fails every later delivery the same way:
      // end the process (exit 70) instead of retrying forever; the batch stays uncommitted.
      if (auto fatal = producer->fatal_error())
        throw core::fatal_task_error("kafka producer unusable: " + fatal->message);
      retried.inc(failed);
      backoff.expires_after(delay);
      boost::system::error_code ec;
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      delay = std::min<std::chrono::milliseconds>(delay * 2, 5s);
    }
  }

  // Records the batch's acknowledged prefix; commits what is waiting when the pacer says so.
  asio::awaitable<void> commit_done(const std::vector<pending>& items) {
    std::vector<core::kafka::handled_message> handled;
    handled.reserve(items.size());
    for (const auto& p : items) handled.push_back({{p.in->topic, p.in->partition}, p.in->offset, p.done});
    auto plan = core::kafka::acknowledged_prefix(handled, revoked);
    pacer.record(plan, items.size(), core::kafka::commit_pacer::clock::now());
    co_await commit_if_due(false);
  }

  // Commits the waiting offsets if the pacer says so, or whatever is waiting if `now_anyway`.
  asio::awaitable<void> commit_if_due(bool now_anyway) {
    // Not fatal: the next commit carries these offsets again; meanwhile a crash re-delivers
    // them and they are re-decided identically.
    if (auto err = co_await core::kafka::commit_paced(*consumer, pacer, now_anyway))
      ctx.log.warn("offset commit failed", {{"error", err->message}});
  }

  void update_lag() { core::kafka::export_lag(ctx.metrics, cfg.group, consumer->lag()); }

  asio::awaitable<void> consume() {
    consumer->on_rebalance([this](const core::kafka::rebalance_event& ev) {
      if (ev.what != core::kafka::rebalance_event::kind::assigned) {
        revoked.insert(ev.partitions.begin(), ev.partitions.end());
        pacer.forget(ev.partitions);
        core::kafka::clear_lag(ctx.metrics, cfg.group, ev.partitions);
      }
      ctx.log.info("rebalance", {{"event", ev.what == core::kafka::rebalance_event::kind::assigned ? "assigned"
                                              : ev.what == core::kafka::rebalance_event::kind::revoked ? "revoked"
                                                                                                        : "lost"},
                                    {"partitions", static_cast<std::int64_t>(ev.partitions.size())}});
    });
    consumer->subscribe({kafka.orders_topic});
    ctx.log.info("fraud started", {{"topic", kafka.orders_topic}, {"group", cfg.group}});
    while (!stopping) {
      revoked.clear();
      auto batch = co_await consumer->next_batch(500, 250ms);
      update_lag();
      if (batch.empty()) {
        co_await commit_if_due(false);
        continue;
      }
      consumed.inc(static_cast<double>(batch.size()));
      std::vector<pending> items;
      items.reserve(batch.size());
      for (const auto& m : batch) items.push_back(prepare(m));
      co_await produce_all(items);
      co_await commit_done(items);
    }
  }

  // Supervised with on_failure::exit: a failure leaves the group without committing the
  // batch in hand, and a fresh process re-reads from the committed offsets.
  asio::awaitable<void> loop() {
    auto self = shared_from_this();
    std::exception_ptr failure;
    try {
      co_await consume();
      co_await commit_if_due(true);  // a clean stop commits what finished
    } catch (...) {
      failure = std::current_exception();
    }
    co_await consumer->close(5s);
    co_await producer->flush(5s);
    done = true;
    ctx.log.info("fraud stopped", {});
    if (failure) std::rethrow_exception(failure);
  }
};

fraud::fraud(core::role_context ctx, fraud_config cfg, kafka_config kafka)
    : impl_(std::make_shared<impl>(ctx, std::move(cfg), std::move(kafka))) {
  auto p = impl_.get();
  ctx.add_readiness("kafka", [p]() -> asio::awaitable<std::optional<std::string>> {
    co_return co_await p->consumer->ping();
  });
}

fraud::~fraud() = default;

void fraud::run() {
  impl_->task = impl_->ctx.tasks.spawn(
      "fraud", [p = impl_] { return p->loop(); }, core::task_policy{core::on_failure::exit});
}

void fraud::stop() noexcept {
  impl_->stopping = true;
  impl_->backoff.cancel();
}

bool fraud::stopped() const noexcept { return impl_->done || impl_->task.finished(); }

}  // namespace pokeflow::roles::fraud
