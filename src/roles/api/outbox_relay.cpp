#include "roles/api/outbox_relay.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/kafka/producer.hpp"
#include "core/log.hpp"
#include "core/pg/params.hpp"
#include "core/pg/pool.hpp"
#include "roles/api/delivery.hpp"
#include "roles/api/sql.hpp"

namespace pokeflow::roles::api {

namespace {
// The api role's own lines carry "role":"api" like the rest of the role's.
const core::log::logger api_log{"api"};
}  // namespace

namespace asio = boost::asio;
namespace pg = core::pg;
using namespace std::chrono_literals;

outbox_relay::outbox_relay(asio::io_context& io, pg::pool& pool, core::kafka::producer& producer,
                           core::metrics::registry& metrics, options opts)
    : pool_(pool),
      producer_(producer),
      opts_(opts),
      wake_(io),
      published_(metrics.get_counter("pokeflow_outbox_published_total", "Outbox events published to Kafka")),
      errors_(metrics.get_counter("pokeflow_outbox_relay_errors_total",
                                  "Relay rounds that failed (database or Kafka)")) {}

void outbox_relay::wake() noexcept {
  woken_ = true;  // also when a round is running: it then goes again (after a linger)
  if (!lingering_) wake_.cancel();
}

void outbox_relay::stop() noexcept {
  stopping_ = true;
  wake_.cancel();
}

asio::awaitable<int> outbox_relay::round() {
  auto c = co_await pool_.acquire();
  if (!c) co_return -1;
  // The round's commit only deletes published rows: if PostgreSQL lost it in a crash, the
  // rows would be published again (an at-least-once duplicate, absorbed downstream), so it
  // need not wait for its WAL flush, and does not queue in front of the orders' commits.
  auto begin = co_await c->script("BEGIN; SET LOCAL synchronous_commit = off");
  if (!begin) co_return -1;
  auto rows = co_await c->query(sql::claim_outbox, pg::params(opts_.batch));
  if (!rows) {
    co_await c->query("ROLLBACK");
    api_log.warn("outbox claim failed", {{"error", rows.message()}});
    co_return -1;
  }
  if (rows.rows() == 0) {
    co_await c->query("COMMIT");
    co_return 0;
  }
  const auto n = static_cast<std::size_t>(rows.rows());
  std::vector<std::int64_t> ids;
  std::vector<std::string> keys, payloads, topics;
  ids.reserve(n);
  keys.reserve(n);
  payloads.reserve(n);
  topics.reserve(n);
  for (int i = 0; i < rows.rows(); ++i) {
    ids.push_back(rows.get_int(i, "id"));
    keys.emplace_back(rows.get(i, "order_id"));
    topics.emplace_back(rows.get(i, "topic"));
    payloads.emplace_back(rows.get(i, "payload"));
  }
  std::vector<core::kafka::outgoing> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back({topics[i], core::kafka::unassigned_partition, keys[i], payloads[i], {}});
  auto results = co_await producer_.produce_batch(out);
  std::vector<bool> acked;
  acked.reserve(results.size());
  std::optional<std::string> first_error;
  for (const auto& r : results) {
    acked.push_back(r.ok());
    if (!r.ok() && !first_error) first_error = r.error->message;
  }
  auto settled = settle_relay_round(ids, acked);
  if (!settled.delete_ids.empty()) {
    std::string done = "{";
    for (std::size_t i = 0; i < settled.delete_ids.size(); ++i) {
      if (i) done += ',';
      done += std::to_string(settled.delete_ids[i]);
    }
    done += '}';
    auto del = co_await c->query(sql::delete_outbox, pg::params(done));
    if (!del) {
      // Published but not deleted: they go out again later (an at-least-once duplicate).
      co_await c->query("ROLLBACK");
      api_log.warn("outbox delete failed", {{"error", del.message()}});
      co_return -1;
    }
  }
  auto commit = co_await c->query("COMMIT");
  if (!commit) {
    api_log.warn("outbox commit failed", {{"error", commit.message()}});
    co_return -1;
  }
  const auto ok = static_cast<int>(settled.delete_ids.size());
  published_.inc(ok);
  if (settled.failed > 0) {
    api_log.warn("publishing outbox events failed; they stay in the outbox",
                    {{"failed", static_cast<std::int64_t>(settled.failed)},
                     {"error", first_error.value_or("no delivery report")}});
    co_return -1;
  }
  co_return ok;
}

asio::awaitable<void> outbox_relay::run() {
  auto backoff = 100ms;
  while (!stopping_) {
    woken_ = false;
    int n = co_await round();
    std::chrono::milliseconds wait = opts_.interval;
    if (n < 0) {
      errors_.inc();
      wait = backoff;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
    } else {
      backoff = 100ms;
      if (n >= opts_.batch) continue;  // a full batch: more are waiting, go again at once
      // Woken meanwhile: go again after a linger, so the orders of several create batches
      // share a round (one produce request, one DELETE) instead of a round each.
      if (woken_) wait = opts_.linger;
    }
    if (stopping_) break;
    lingering_ = woken_;  // a linger is not cut short by further wakes (stop() still ends it)
    wake_.expires_after(wait);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    lingering_ = false;
  }
  co_await producer_.flush(5s);
}

}  // namespace pokeflow::roles::api
