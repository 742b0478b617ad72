#include "roles/verify/verify.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/pg/array_literal.hpp"
#include "core/pg/connection.hpp"
#include "core/fraud_rules.hpp"
#include "core/ledger.hpp"  // the ledger format belongs to its writer
#include "core/text.hpp"
#include "roles/verify/check.hpp"

namespace pokeflow::roles::verify {
namespace asio = boost::asio;
namespace pg = core::pg;
using asio::awaitable;

namespace {

constexpr std::size_t chunk_rows = 10000;
constexpr std::size_t max_samples = 10;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t to_i64(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

double to_f64(std::string_view s) {
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// One column of rows [from, to) as a PostgreSQL array literal, for unnest().
template <class F>
std::string column(const std::vector<core::ledger::ledger_row>& rows, std::size_t from, std::size_t to, F field) {
  pg::array_literal_builder b;
  for (std::size_t i = from; i < to; ++i) b.add(field(rows[i]));
  return b.str();
}

std::string price_text(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", p);
  return buf;
}

void need(const pg::result& r, const std::string& what) {
  if (!r) throw setup_error(what + ": " + r.message());
}

struct inputs {
  std::vector<expected_order> expected;  // sorted by id
  std::vector<std::optional<stored_order>> stored;
  std::vector<std::vector<transition>> transitions;
};

constexpr const char* epoch_us = "(extract(epoch from %s) * 1000000)::bigint";
std::string epoch(const std::string& col) {
  char buf[128];
  std::snprintf(buf, sizeof buf, epoch_us, col.c_str());
  return buf;
}

// Loads expected orders into the session's temp table verify_ledger.
awaitable<void> load_ledger(pg::connection& c, const std::vector<core::ledger::ledger_row>& rows) {
  std::string sql = "CREATE TEMP TABLE verify_ledger (order_id bigint PRIMARY KEY, user_id bigint, "
                    "pokemon text, country text, price double precision, acked_us bigint NOT NULL)";
  auto r = co_await c.query(std::move(sql));
  need(r, "creating the temp table");
  for (std::size_t from = 0; from < rows.size(); from += chunk_rows) {
    auto to = std::min(rows.size(), from + chunk_rows);
    using R = core::ledger::ledger_row;
    std::vector<pg::param> params;
    params.emplace_back(column(rows, from, to, [](const R& r) { return std::to_string(r.order_id); }));
    params.emplace_back(column(rows, from, to, [](const R& r) { return std::to_string(r.user_id); }));
    params.emplace_back(column(rows, from, to, [](const R& r) { return std::string_view(r.pokemon); }));
    params.emplace_back(column(rows, from, to, [](const R& r) { return std::string_view(r.country); }));
    params.emplace_back(column(rows, from, to, [](const R& r) { return price_text(r.price); }));
    params.emplace_back(column(rows, from, to, [](const R& r) { return std::to_string(r.acked_us); }));
    sql = "INSERT INTO verify_ledger SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], "
          "$4::text[], $5::float8[], $6::bigint[])";
    r = co_await c.query(std::move(sql), std::move(params));
    need(r, "loading the ledger");
  }
  sql = "ANALYZE verify_ledger";
  r = co_await c.query(std::move(sql));
  need(r, "analyzing the temp table");
}

awaitable<void> load_window(pg::connection& c, const std::string& since, const std::string& until) {
  std::string sql = "CREATE TEMP TABLE verify_ledger AS SELECT id AS order_id, NULL::bigint AS user_id, "
                    "NULL::text AS pokemon, NULL::text AS country, NULL::float8 AS price, " +
                    epoch("\"timestamp\"") +
                    " AS acked_us FROM poke_orders WHERE \"timestamp\" >= $1::timestamptz "
                    "AND ($2::text = '' OR \"timestamp\" < nullif($2::text, '')::timestamptz)";
  std::vector<pg::param> params{pg::param(since), pg::param(until)};
  auto r = co_await c.query(std::move(sql), std::move(params));
  need(r, "selecting the window --since " + since + (until.empty() ? "" : " --until " + until));
  sql = "ALTER TABLE verify_ledger ADD PRIMARY KEY (order_id)";
  r = co_await c.query(std::move(sql));
  need(r, "indexing the window");
  sql = "ANALYZE verify_ledger";
  r = co_await c.query(std::move(sql));
  need(r, "analyzing the temp table");
}

awaitable<inputs> gather(pg::connection& c, bool has_counters, bool ledger_mode) {
  inputs in;
  std::string counters = has_counters ? "o.redeliveries, o.conflicts" : "0 AS redeliveries, 0 AS conflicts";
  std::string sql =
      "SELECT l.order_id, l.user_id, l.pokemon, l.country, l.price, l.acked_us, o.id IS NOT NULL AS present, "
      "o.user_id AS o_user_id, o.pokemon AS o_pokemon, o.country AS o_country, o.price AS o_price, o.state, " +
      epoch("o.\"timestamp\"") + " AS created_us, " + epoch("o.updated_at") + " AS updated_us, " + counters +
      " FROM verify_ledger l LEFT JOIN poke_orders o ON o.id = l.order_id ORDER BY l.order_id";
  auto r = co_await c.query(std::move(sql));
  need(r, "reading orders");
  const int n = r.rows();
  in.expected.resize(n);
  in.stored.resize(n);
  in.transitions.resize(n);
  for (int i = 0; i < n; ++i) {
    auto& e = in.expected[i];
    e.id = to_i64(r.get(i, 0));
    if (ledger_mode) {
      e.user_id = to_i64(r.get(i, 1));
      e.pokemon = std::string(r.get(i, 2));
      e.country = std::string(r.get(i, 3));
      e.price = to_f64(r.get(i, 4));
    }
    e.acked_us = to_i64(r.get(i, 5));
    if (r.get(i, 6) != "t") continue;
    stored_order s;
    s.o.id = e.id;
    s.o.user_id = to_i64(r.get(i, 7));
    s.o.pokemon = std::string(r.get(i, 8));
    s.o.country = std::string(r.get(i, 9));
    s.o.price = to_f64(r.get(i, 10));
    auto st = parse_order_state(r.get(i, 11));
    if (!st) throw setup_error("order " + std::to_string(e.id) + " has an unknown state '" + std::string(r.get(i, 11)) + "'");
    s.o.state = *st;
    s.created_us = to_i64(r.get(i, 12));
    s.updated_us = to_i64(r.get(i, 13));
    s.redeliveries = to_i64(r.get(i, 14));
    s.conflicts = to_i64(r.get(i, 15));
    in.stored[i] = std::move(s);
  }

  sql = "SELECT t.order_id, t.from_state, t.to_state, " + epoch("t.at") +
        " AS at_us FROM poke_order_transitions t JOIN verify_ledger l ON l.order_id = t.order_id "
        "ORDER BY t.order_id, t.at, t.id";
  auto t = co_await c.query(std::move(sql));
  need(t, "reading state transitions");
  // Both results are ordered by order id: merge.
  int j = 0;
  for (int k = 0; k < t.rows(); ++k) {
    auto id = to_i64(t.get(k, 0));
    while (j < n && in.expected[j].id < id) ++j;
    if (j == n) break;
    if (in.expected[j].id != id) continue;
    auto from = parse_order_state(t.get(k, 1));
    auto to = parse_order_state(t.get(k, 2));
    if (!from || !to) continue;
    in.transitions[j].push_back({*from, *to, to_i64(t.get(k, 3))});
  }
  co_return in;
}

double percentile_ms(std::vector<std::int64_t>& sorted_us, double q) {
  if (sorted_us.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * double(sorted_us.size()) - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted_us.size());
  return double(sorted_us[rank - 1]) / 1000.0;
}

void judge(const inputs& in, const check_params& p, report& rep) {
  rep.acknowledged = in.expected.size();
  rep.terminal = rep.lost = rep.corrupted = rep.stuck_pending = rep.in_flight = rep.wrong_decision = rep.flipped = 0;
  rep.redeliveries = rep.conflicts = 0;
  rep.by_state.clear();
  rep.samples.clear();
  for (auto s : {order_state::pending, order_state::rejected, order_state::failed, order_state::success,
                 order_state::reversed})
    rep.by_state[to_string(s)] = 0;
  std::vector<std::int64_t> finalize_us;
  auto note = [&](bool hit, std::uint64_t& counter, const char* name, std::int64_t id) {
    if (!hit) return;
    ++counter;
    auto& v = rep.samples[name];
    if (v.size() < max_samples) v.push_back(id);
  };
  for (std::size_t i = 0; i < in.expected.size(); ++i) {
    const auto& e = in.expected[i];
    const auto& s = in.stored[i];
    auto v = classify(e, s, in.transitions[i], p);
    if (s) {
      ++rep.by_state[to_string(s->o.state)];
      if (is_terminal(s->o.state)) ++rep.terminal;
      rep.redeliveries += s->redeliveries;
      rep.conflicts += s->conflicts;
      if (v.finalized_us) finalize_us.push_back(*v.finalized_us - s->created_us);
    }
    note(v.lost, rep.lost, "lost", e.id);
    note(v.corrupted, rep.corrupted, "corrupted", e.id);
    note(v.stuck_pending, rep.stuck_pending, "stuck_pending", e.id);
    note(v.in_flight, rep.in_flight, "in_flight", e.id);
    note(v.wrong_decision, rep.wrong_decision, "wrong_decision", e.id);
    note(v.flipped, rep.flipped, "flipped", e.id);
  }
  std::sort(finalize_us.begin(), finalize_us.end());
  rep.finalized = finalize_us.size();
  rep.finalize_p50_ms = percentile_ms(finalize_us, 50);
  rep.finalize_p90_ms = percentile_ms(finalize_us, 90);
  rep.finalize_p99_ms = percentile_ms(finalize_us, 99);
  rep.finalize_max_ms = finalize_us.empty() ? 0 : double(finalize_us.back()) / 1000.0;
}

awaitable<void> check_async(const app_config& cfg, const verify_config& args, const check_params& base,
                            std::vector<core::ledger::ledger_row> rows, report& rep) {
  auto ex = co_await asio::this_coro::executor;
  pg::connection c(ex);
  auto r = co_await c.connect(cfg.pg.conninfo(), cfg.pg.connect_timeout);
  if (!r) throw setup_error("cannot connect to PostgreSQL at " + cfg.pg.host + ":" + std::to_string(cfg.pg.port) +
                            ": " + r.message());
  std::string sql =
      "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
      "AND table_name = 'poke_orders'";
  r = co_await c.query(std::move(sql));
  need(r, "reading the schema");
  bool has_table = r.rows() > 0, has_counters = false;
  int counter_cols = 0;
  for (int i = 0; i < r.rows(); ++i)
    if (r.get(i, 0) == "redeliveries" || r.get(i, 0) == "conflicts") ++counter_cols;
  has_counters = counter_cols == 2;
  if (!has_table) throw setup_error("table poke_orders not found in database " + cfg.pg.database + ": run `pokeflow migrate`");

  const bool ledger_mode = !args.ledger.empty();
  if (ledger_mode)
    co_await load_ledger(c, rows);
  else
    co_await load_window(c, args.since, args.until);
  rows.clear();
  rows.shrink_to_fit();

  auto started = std::chrono::steady_clock::now();
  asio::steady_timer timer(ex);
  for (rep.rounds = 1;; ++rep.rounds) {
    auto p = base;
    if (ledger_mode) {
      p.now_us = now_us();
    } else {
      // Window mode compares against creation times written by the database's clock.
      sql = "SELECT " + epoch("clock_timestamp()");
      auto n = co_await c.query(std::move(sql));
      need(n, "reading the database clock");
      p.now_us = to_i64(n.get(0, 0));
    }
    auto in = co_await gather(c, has_counters, ledger_mode);
    judge(in, p, rep);
    auto waited = std::chrono::steady_clock::now() - started;
    if (rep.in_flight + rep.stuck_pending == 0 || waited >= args.wait) break;
    std::fprintf(stderr, "verify: %llu in flight, %llu stuck pending; re-checking (%.0f s of --wait left)\n",
                 static_cast<unsigned long long>(rep.in_flight), static_cast<unsigned long long>(rep.stuck_pending),
                 std::chrono::duration<double>(args.wait - waited).count());
    timer.expires_after(std::min<std::chrono::steady_clock::duration>(std::chrono::seconds(1), args.wait - waited));
    co_await timer.async_wait(asio::use_awaitable);
  }
  c.close();
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(v) ? v : 0.0);
  return buf;
}

}  // namespace

report check(const app_config& cfg, const verify_config& args) {
  auto t0 = std::chrono::steady_clock::now();
  if (!args.ledger.empty() && !args.since.empty())
    throw setup_error("give either --ledger or --since/--until, not both");
  if (args.ledger.empty() && args.since.empty()) throw setup_error("give --ledger FILE or --since TIMESTAMP");
  if (!args.until.empty() && args.since.empty()) throw setup_error("--until needs --since");
  if (args.deadline.count() < 0 || args.wait.count() < 0) throw setup_error("--deadline and --wait must be >= 0");

  check_params p;
  try {
    p.rules = core::fraud::load_rules(cfg.fraud.rules_file);
  } catch (const std::exception& e) {
    throw setup_error(std::string("fraud rules (--fraud-rules): ") + e.what());
  }
  p.pending_timeout = cfg.reverser.pending_timeout;
  p.deadline = args.deadline;

  report rep;
  rep.deadline_ms = args.deadline.count();
  rep.pending_timeout_ms = cfg.reverser.pending_timeout.count();
  std::vector<core::ledger::ledger_row> rows;
  if (!args.ledger.empty()) {
    rep.mode = "ledger";
    rep.source = args.ledger;
    core::ledger::ledger_contents contents;
    try {
      contents = core::ledger::read_ledger(args.ledger);
    } catch (const std::exception& e) {
      throw setup_error(e.what());
    }
    rep.ledger_truncated_tail = contents.truncated_tail;
    std::unordered_set<std::int64_t> seen;
    for (auto& row : contents.rows) {
      if (seen.insert(row.order_id).second)
        rows.push_back(std::move(row));
      else
        ++rep.ledger_duplicates;
    }
  } else {
    rep.mode = "window";
    rep.source = args.since + ".." + args.until;
  }

  asio::io_context io{1};
  std::exception_ptr error;
  asio::co_spawn(io, check_async(cfg, args, p, std::move(rows), rep), [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const setup_error&) {
      throw;
    } catch (const std::exception& e) {
      throw setup_error(e.what());
    }
  }
  rep.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

std::string to_table(const report& r) {
  std::string t = "verify (" + r.mode + ": " + r.source + ")\n";
  auto row = [&](const char* k, const std::string& v, const char* note = "") {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-16s %12s  %s\n", k, v.c_str(), note);
    t += buf;
  };
  auto u = [](std::uint64_t v) { return std::to_string(v); };
  row("acknowledged", u(r.acknowledged));
  row("terminal", u(r.terminal));
  for (const auto& [state, n] : r.by_state) row(("  " + state).c_str(), u(n));
  row("lost", u(r.lost), r.lost ? "VIOLATION" : "");
  row("corrupted", u(r.corrupted), r.corrupted ? "VIOLATION" : "");
  row("stuck_pending", u(r.stuck_pending), r.stuck_pending ? "VIOLATION" : "");
  row("in_flight", u(r.in_flight), "pending within the deadline");
  row("wrong_decision", u(r.wrong_decision), r.wrong_decision ? "VIOLATION" : "");
  row("flipped", u(r.flipped), r.flipped ? "VIOLATION" : "");
  row("redeliveries", std::to_string(r.redeliveries), "duplicate deliveries absorbed");
  row("conflicts", std::to_string(r.conflicts), "late conflicting results refused (409)");
  row("finalize p50", num(r.finalize_p50_ms) + " ms");
  row("finalize p99", num(r.finalize_p99_ms) + " ms");
  row("finalize max", num(r.finalize_max_ms) + " ms");
  row("violations", u(r.violations()), r.ok() ? "OK" : "FAILED");
  return t;
}

std::string to_json(const report& r) {
  using core::text::json_escape;
  auto u = [](std::uint64_t v) { return std::to_string(v); };
  std::string j = "{\"mode\":\"" + r.mode + "\",\"source\":\"" + json_escape(r.source) + "\"";
  j += ",\"acknowledged\":" + u(r.acknowledged);
  j += ",\"terminal\":" + u(r.terminal);
  j += ",\"by_state\":{";
  bool first = true;
  for (const auto& [state, n] : r.by_state) {
    if (!first) j += ',';
    first = false;
    j += "\"" + state + "\":" + u(n);
  }
  j += "}";
  j += ",\"lost\":" + u(r.lost);
  j += ",\"corrupted\":" + u(r.corrupted);
  j += ",\"stuck_pending\":" + u(r.stuck_pending);
  j += ",\"in_flight\":" + u(r.in_flight);
  j += ",\"wrong_decision\":" + u(r.wrong_decision);
  j += ",\"flipped\":" + u(r.flipped);
  j += ",\"redeliveries\":" + std::to_string(r.redeliveries);
  j += ",\"conflicts\":" + std::to_string(r.conflicts);
  j += ",\"violations\":" + u(r.violations());
  j += ",\"ok\":" + std::string(r.ok() ? "true" : "false");
  j += ",\"finalize_ms\":{\"count\":" + u(r.finalized) + ",\"p50\":" + num(r.finalize_p50_ms) +
       ",\"p90\":" + num(r.finalize_p90_ms) + ",\"p99\":" + num(r.finalize_p99_ms) + ",\"max\":" + num(r.finalize_max_ms) +
       "}";
  j += ",\"samples\":{";
  first = true;
  for (const auto& [k, ids] : r.samples) {
    if (!first) j += ',';
    first = false;
    j += "\"" + k + "\":[";
    for (std::size_t i = 0; i < ids.size(); ++i) j += (i ? "," : "") + std::to_string(ids[i]);
    j += "]";
  }
  j += "}";
  j += ",\"ledger_duplicates\":" + u(r.ledger_duplicates);
  j += ",\"ledger_truncated_tail\":" + std::string(r.ledger_truncated_tail ? "true" : "false");
  j += ",\"deadline_ms\":" + std::to_string(r.deadline_ms);
  j += ",\"pending_timeout_ms\":" + std::to_string(r.pending_timeout_ms);
  j += ",\"rounds\":" + std::to_string(r.rounds);
  j += ",\"elapsed_ms\":" + num(r.elapsed_ms);
  j += "}";
  return j;
}

int run(const app_config& cfg, const verify_config& args) {
  report r;
  try {
    r = check(cfg, args);
  } catch (const setup_error& e) {
    std::cerr << "pokeflow verify: " << e.what() << "\n";
    return 2;
  }
  std::cerr << to_table(r);
  auto json = to_json(r);
  std::cout << json << std::endl;
  if (!args.json.empty()) {
    std::ofstream out(args.json, std::ios::trunc);
    out << json << "\n";
    out.flush();
    if (!out) {
      std::cerr << "pokeflow verify: cannot write --json " << args.json << "\n";
      return 2;
    }
  }
  return r.ok() ? 0 : 1;
}

}  // namespace pokeflow::roles::verify
