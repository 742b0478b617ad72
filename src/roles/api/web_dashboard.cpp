#include "roles/api/web_dashboard.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <exception>
#include <limits>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/kafka/admin.hpp"
#include "core/log.hpp"
#include "core/pg/pool.hpp"
#include "core/text.hpp"
#include "roles/api/web_timeline.hpp"

namespace pokeflow::roles::api::web {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Orders created and finalized per second since the given ids, plus the clock and the newest
// ids to start from next time. Every row whose creation ("timestamp", the transaction's start)
// or transition time ("at") is at or after the moment the `low` ids were read has an id above
// them (ids are taken after that moment), so seconds from then on are counted completely.
constexpr const char* counts_sql =
    "SELECT 'c' AS k, floor(extract(epoch FROM \"timestamp\"))::bigint AS s, NULL::text AS st, count(*)::bigint AS n "
    "FROM poke_orders WHERE id > $1 GROUP BY 2 "
    "UNION ALL SELECT 'f', floor(extract(epoch FROM at))::bigint, to_state::text, count(*) "
    "FROM poke_order_transitions WHERE id > $2 GROUP BY 2, 3 "
    "UNION ALL SELECT 'm', 0, NULL, (extract(epoch FROM clock_timestamp()) * 1000)::bigint "
    "UNION ALL SELECT 'o', 0, NULL, COALESCE((SELECT max(id) FROM poke_orders), 0) "
    "UNION ALL SELECT 't', 0, NULL, COALESCE((SELECT max(id) FROM poke_order_transitions), 0)";

// How long a second keeps being recounted (late commits land in it meanwhile).
constexpr auto recount_window = 10s;
// Sampling stops this long after the last request for data.
constexpr auto idle_after = 10min;
// Kafka numbers older than this are shown as unknown.
constexpr auto kafka_fresh = 5s;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct dashboard::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io_, sources s)
      : io(io_),
        src(std::move(s)),
        line(src.groups),
        pg_timer(io_),
        kafka_timer(io_),
        errors(src.metrics.get_counter("pokeflow_dashboard_errors_total",
                                       "Dashboard sampling rounds that failed (database or Kafka)")) {}

  asio::io_context& io;
  sources src;
  timeline line;
  marks windows;
  latency_window post_latency;
  asio::steady_timer pg_timer;
  asio::steady_timer kafka_timer;
  core::metrics::counter& errors;
  std::unique_ptr<core::kafka::admin> admin;
  bool stopping = false;
  bool pg_running = false;
  bool kafka_running = false;
  std::chrono::steady_clock::time_point last_view{};

  // Low-water ids with the database time they were read at (ms), newest last.
  struct low_water {
    double at_ms;
    std::int64_t orders;
    std::int64_t transitions;
  };
  std::deque<low_water> lows;

  // Latest Kafka readings.
  std::vector<std::optional<double>> lag;
  std::optional<double> dlq;
  std::chrono::steady_clock::time_point kafka_at{};
  std::optional<std::int32_t> dlq_partitions;
  std::chrono::steady_clock::time_point dlq_partitions_at{};

  bool watched() const { return std::chrono::steady_clock::now() - last_view < idle_after; }

  void ensure_running() {
    if (stopping) return;
    if (!pg_running) {
      pg_running = true;
      asio::co_spawn(io, pg_loop(shared_from_this()), asio::detached);
    }
    if (!kafka_running) {
      kafka_running = true;
      asio::co_spawn(io, kafka_loop(shared_from_this()), asio::detached);
    }
  }

  asio::awaitable<void> sleep(asio::steady_timer& t, std::chrono::steady_clock::duration d) {
    t.expires_after(d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  // ---- PostgreSQL counts and the api's own gauges, once a second -------------------------
  asio::awaitable<void> pg_round() {
    auto c = co_await src.pool.acquire(1s);
    if (!c) {
      errors.inc();
      co_return;
    }
    std::int64_t low_o = lows.empty() ? std::numeric_limits<std::int64_t>::max() : lows.front().orders;
    std::int64_t low_t = lows.empty() ? std::numeric_limits<std::int64_t>::max() : lows.front().transitions;
    double low_at_ms = lows.empty() ? 0 : lows.front().at_ms;
    auto r = co_await c->query(counts_sql, low_o, low_t);
    c.release();
    if (!r) {
      errors.inc();
      src.log.debug("dashboard count query failed", {{"error", r.message()}});
      co_return;
    }
    std::vector<count_row> rows;
    double now_ms = 0;
    std::int64_t max_o = 0, max_t = 0;
    for (int i = 0; i < r.rows(); ++i) {
      auto k = r.get(i, "k");
      auto n = r.get_int(i, "n");
      if (k == "m") now_ms = static_cast<double>(n);
      else if (k == "o") max_o = n;
      else if (k == "t") max_t = n;
      else if (k == "c") rows.push_back({r.get_int(i, "s"), std::nullopt, n});
      else if (k == "f") {
        auto st = r.get(i, "st");
        for (std::size_t j = 0; j < finalized_states.size(); ++j)
          if (finalized_states[j] == st) rows.push_back({r.get_int(i, "s"), j, n});
      }
    }
    auto now_s = static_cast<std::int64_t>(std::floor(now_ms / 1000));
    if (!lows.empty()) {
      // Seconds from the low-water moment on are complete; the current one is still going.
      auto complete_from = static_cast<std::int64_t>(std::ceil(low_at_ms / 1000));
      line.set_counts(complete_from, now_s - 1, rows);
    }
    lows.push_back({now_ms, max_o, max_t});
    const double keep_ms = std::chrono::duration<double, std::milli>(recount_window).count();
    while (lows.size() > 1 && lows[1].at_ms <= now_ms - keep_ms) lows.pop_front();
  }

  void gauge_round(std::int64_t second) {
    gauges g;
    g.outbox_backlog = src.outbox_backlog.value();
    g.outbox_oldest_age_s = src.outbox_oldest_age.value();
    g.post_p99_ms = post_latency.take_p99();
    if (std::chrono::steady_clock::now() - kafka_at < kafka_fresh) {
      g.lag = lag;
      g.dlq_messages = dlq;
    }
    line.set_gauges(second, std::move(g));
  }

  asio::awaitable<void> pg_loop(std::shared_ptr<impl> self) {
    while (!stopping && watched()) {
      try {
        // The gauges describe the second that just ended.
        auto second = static_cast<std::int64_t>(std::floor(unix_now())) - 1;
        gauge_round(second);
        co_await pg_round();
      } catch (const std::exception& e) {
        errors.inc();
        src.log.error("dashboard sampling failed", {{"error", e.what()}});
      }
      // Wake just after the next second starts.
      double now = unix_now();
      auto wait = std::chrono::duration<double>(std::floor(now) + 1.05 - now);
      co_await sleep(pg_timer, std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait));
    }
    lows.clear();  // a restart must not count from stale ids
    pg_running = false;
  }

  // ---- Kafka: consumer lag per group and DLQ size ---------------------------------------
  asio::awaitable<void> kafka_round() {
    if (!admin) {
      core::kafka::admin_options o;
      o.client_id = "pokeflow-api-dashboard";
      o.request_timeout = 3s;
      o.quiet = true;
      admin = std::make_unique<core::kafka::admin>(io, src.kafka, o);
    }
    std::vector<std::optional<double>> lags(src.groups.size());
    for (std::size_t i = 0; i < src.groups.size(); ++i) {
      try {
        auto parts = co_await admin->group_lag(src.groups[i]);
        double sum = 0;
        bool known = false;
        for (const auto& p : parts)
          if (p.lag >= 0) {
            sum += static_cast<double>(p.lag);
            known = true;
          }
        if (known || parts.empty()) lags[i] = sum;
      } catch (const std::exception& e) {
        src.log.debug("dashboard: group lag unknown", {{"group", src.groups[i]}, {"error", e.what()}});
      }
    }
    std::optional<double> dlq_count;
    try {
      if (!dlq_partitions || std::chrono::steady_clock::now() - dlq_partitions_at > 30s) {
        auto md = co_await admin->describe_cluster();
        const auto* t = md.find(src.kafka.dlq_topic);
        dlq_partitions = (t && t->error == 0) ? static_cast<std::int32_t>(t->partitions.size()) : 0;
        dlq_partitions_at = std::chrono::steady_clock::now();
      }
      double total = 0;
      for (std::int32_t p = 0; p < *dlq_partitions; ++p) {
        auto [lo, hi] = co_await admin->watermarks(src.kafka.dlq_topic, p);
        total += static_cast<double>(std::max<std::int64_t>(0, hi - lo));
      }
      dlq_count = total;
    } catch (const std::exception& e) {
      dlq_partitions.reset();
      src.log.debug("dashboard: DLQ size unknown", {{"error", e.what()}});
    }
    lag = std::move(lags);
    dlq = dlq_count;
    kafka_at = std::chrono::steady_clock::now();
  }

  asio::awaitable<void> kafka_loop(std::shared_ptr<impl> self) {
    while (!stopping && watched()) {
      auto started = std::chrono::steady_clock::now();
      try {
        co_await kafka_round();
      } catch (const std::exception& e) {
        errors.inc();
        src.log.warn("dashboard Kafka sampling failed", {{"error", e.what()}});
        admin.reset();  // e.g. a bad client property: retried from scratch next round
      }
      if (stopping) break;
      auto spent = std::chrono::steady_clock::now() - started;
      co_await sleep(kafka_timer, spent < 1s ? 1s - spent : std::chrono::steady_clock::duration(100ms));
    }
    kafka_running = false;
  }
};

dashboard::dashboard(asio::io_context& io, sources src) : impl_(std::make_shared<impl>(io, std::move(src))) {}

dashboard::~dashboard() { stop(); }

void dashboard::observe_post(double seconds) noexcept {
  try {
    impl_->post_latency.observe(seconds * 1000.0);
  } catch (...) {
  }
}

std::string dashboard::data(int seconds) {
  auto& s = *impl_;
  s.last_view = std::chrono::steady_clock::now();
  s.ensure_running();
  double now = unix_now();
  auto to = static_cast<std::int64_t>(std::floor(now)) - 1;
  auto from = to - seconds + 1;
  // Nothing is known before sampling began: start there (but show at least a minute).
  if (auto first = s.line.first_second()) from = std::max(from, std::min(*first, to - 59));
  std::string out = "{\"now\":" + std::to_string(now) + ",\"groups\":[";
  for (std::size_t i = 0; i < s.src.groups.size(); ++i) {
    if (i) out += ',';
    out += '"' + core::text::json_escape(s.src.groups[i]) + '"';
  }
  out += "],\"marks\":" + s.windows.to_json(static_cast<double>(from), now);
  out += ",\"series\":" + s.line.to_json(from, to) + "}";
  return out;
}

std::optional<std::string> dashboard::mark(std::string_view name, std::string_view phase) {
  auto err = impl_->windows.add(name, phase, unix_now());
  if (!err) impl_->src.log.info("dashboard fault mark", {{"name", std::string(name)}, {"phase", std::string(phase)}});
  return err;
}

std::string dashboard::marks_json() const {
  return impl_->windows.to_json(-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity());
}

const std::vector<std::string>& dashboard::groups() const noexcept { return impl_->src.groups; }

void dashboard::stop() noexcept {
  auto& s = *impl_;
  s.stopping = true;
  s.pg_timer.cancel();
  s.kafka_timer.cancel();
}

bool dashboard::stopped() const noexcept { return !impl_->pg_running && !impl_->kafka_running; }

}  // namespace pokeflow::roles::api::web
