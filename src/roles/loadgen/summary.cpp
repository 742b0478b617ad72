#include "roles/loadgen/summary.hpp"

#include <cmath>
#include <cstdio>

#include "core/text.hpp"

namespace pokeflow::roles::loadgen {
namespace {
std::string num(double v, int decimals = 3) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
double ms(std::uint64_t us) { return double(us) / 1000.0; }
}  // namespace

std::uint64_t summary::error_count() const noexcept {
  std::uint64_t n = 0;
  for (const auto& [k, v] : errors) n += v;
  return n;
}

double summary::achieved_rate() const noexcept { return elapsed_s > 0 ? double(acknowledged) / elapsed_s : 0; }

double summary::sent_rate() const noexcept {
  if (send_window_s > 0) return double(sent) / send_window_s;
  return elapsed_s > 0 ? double(sent) / elapsed_s : 0;
}

std::string to_table(const summary& s) {
  std::string t;
  auto row = [&](const std::string& k, const std::string& v) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-22s %s\n", k.c_str(), v.c_str());
    t += buf;
  };
  t += "loadgen summary (" + s.model + " model" + (s.stopped_early ? ", stopped early" : "") + ")\n";
  if (s.model == "open") row("target rate", num(s.target_rate, 1) + " orders/s");
  row("achieved rate", num(s.achieved_rate(), 1) + " orders/s acknowledged");
  row("sent", std::to_string(s.sent) + " of " + std::to_string(s.planned) + " planned (" +
                  num(s.sent_rate(), 1) + "/s)");
  row("acknowledged", std::to_string(s.acknowledged));
  row("elapsed", num(s.elapsed_s, 2) + " s");
  const auto& h = s.latency;
  row("latency p50", num(ms(h.percentile(50))) + " ms");
  row("latency p90", num(ms(h.percentile(90))) + " ms");
  row("latency p99", num(ms(h.percentile(99))) + " ms");
  row("latency p99.9", num(ms(h.percentile(99.9))) + " ms");
  row("latency max", num(ms(h.max())) + " ms");
  if (s.errors.empty()) row("errors", "0");
  for (const auto& [k, v] : s.errors) row("errors " + k, std::to_string(v));
  if (!s.ledger.empty()) row("ledger", s.ledger);
  return t;
}

std::string to_json(const summary& s) {
  const auto& h = s.latency;
  std::string j = "{";
  j += "\"model\":\"" + s.model + "\"";
  j += ",\"target_rate\":" + num(s.target_rate, 3);
  j += ",\"achieved_rate\":" + num(s.achieved_rate(), 3);
  j += ",\"sent_rate\":" + num(s.sent_rate(), 3);
  j += ",\"planned\":" + std::to_string(s.planned);
  j += ",\"sent\":" + std::to_string(s.sent);
  j += ",\"acknowledged\":" + std::to_string(s.acknowledged);
  j += ",\"elapsed_s\":" + num(s.elapsed_s, 3);
  j += ",\"stopped_early\":" + std::string(s.stopped_early ? "true" : "false");
  j += ",\"latency_ms\":{";
  j += "\"p50\":" + num(ms(h.percentile(50)));
  j += ",\"p90\":" + num(ms(h.percentile(90)));
  j += ",\"p99\":" + num(ms(h.percentile(99)));
  j += ",\"p99_9\":" + num(ms(h.percentile(99.9)));
  j += ",\"max\":" + num(ms(h.max()));
  j += ",\"mean\":" + num(h.mean() / 1000.0);
  j += ",\"count\":" + std::to_string(h.count());
  j += "}";
  j += ",\"errors\":{";
  bool first = true;
  for (const auto& [k, v] : s.errors) {
    if (!first) j += ',';
    first = false;
    j += "\"" + core::text::json_escape(k) + "\":" + std::to_string(v);
  }
  j += "},\"error_count\":" + std::to_string(s.error_count());
  j += ",\"ledger\":\"" + core::text::json_escape(s.ledger) + "\"";
  j += "}";
  return j;
}

}  // namespace pokeflow::roles::loadgen
