#include "core/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace pokeflow::core::metrics {
namespace {
void atomic_add(std::atomic<double>& a, double v) noexcept {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest text that reads back as the same double (0.005, not 0.0050000000000000001).
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string escape_label(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string escape_help(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string render_labels(const labels& l, const char* extra_key = nullptr, const std::string& extra_val = {}) {
  if (l.empty() && !extra_key) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + escape_label(v) + "\"";
  }
  if (extra_key) {
    if (!first) out += ",";
    out += std::string(extra_key) + "=\"" + escape_label(extra_val) + "\"";
  }
  out += "}";
  return out;
}
}  // namespace

void counter::inc(double v) noexcept {
  if (v > 0) atomic_add(value_, v);
}
void gauge::add(double v) noexcept { atomic_add(value_, v); }

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void histogram::observe(double v) noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
}

std::vector<double> default_latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

registry::family& registry::get_family(const std::string& name, const std::string& help, kind k) {
  if (!valid_name(name)) throw std::invalid_argument("invalid metric name: " + name);
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.k = k;
    it->second.help = help;
  } else if (it->second.k != k) {
    throw std::invalid_argument("metric " + name + " registered with another type");
  }
  return it->second;
}

counter& registry::get_counter(const std::string& name, const std::string& help, const labels& l) {
  std::lock_guard lock(mutex_);
  auto& f = get_family(name, help, kind::counter);
  auto& p = f.counters[l];
  if (!p) p = std::make_unique<counter>();
  return *p;
}

gauge& registry::get_gauge(const std::string& name, const std::string& help, const labels& l) {
  std::lock_guard lock(mutex_);
  auto& f = get_family(name, help, kind::gauge);
  auto& p = f.gauges[l];
  if (!p) p = std::make_unique<gauge>();
  return *p;
}

histogram& registry::get_histogram(const std::string& name, const std::string& help, const labels& l,
                                   std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto& f = get_family(name, help, kind::histogram);
  auto& p = f.histograms[l];
  if (!p) p = std::make_unique<histogram>(std::move(bounds));
  return *p;
}

void registry::add_callback_gauge(const std::string& name, const std::string& help, std::function<double()> fn) {
  std::lock_guard lock(mutex_);
  get_family(name, help, kind::gauge).callback = std::move(fn);
}

void registry::add_callback_counter(const std::string& name, const std::string& help, std::function<double()> fn) {
  std::lock_guard lock(mutex_);
  get_family(name, help, kind::counter).callback = std::move(fn);
}

std::string registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  // The unlabelled series of a callback family, read now.
  auto render_callback = [&out](const std::string& name, const family& f) {
    if (!f.callback) return;
    double v = 0;
    try {
      v = f.callback();
    } catch (...) {
      v = std::nan("");
    }
    out += name + " " + format_value(v) + "\n";
  };
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    switch (f.k) {
      case kind::counter:
        out += "# TYPE " + name + " counter\n";
        for (const auto& [l, c] : f.counters) out += name + render_labels(l) + " " + format_value(c->value()) + "\n";
        render_callback(name, f);
        break;
      case kind::gauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& [l, g] : f.gauges) out += name + render_labels(l) + " " + format_value(g->value()) + "\n";
        render_callback(name, f);
        break;
      case kind::histogram:
        out += "# TYPE " + name + " histogram\n";
        for (const auto& [l, h] : f.histograms) {
          std::uint64_t cumulative = 0;
          for (std::size_t i = 0; i <= h->bounds().size(); ++i) {
            cumulative += h->bucket(i);
            std::string le = i < h->bounds().size() ? format_value(h->bounds()[i]) : "+Inf";
            out += name + "_bucket" + render_labels(l, "le", le) + " " + std::to_string(cumulative) + "\n";
          }
          out += name + "_sum" + render_labels(l) + " " + format_value(h->sum()) + "\n";
          out += name + "_count" + render_labels(l) + " " + std::to_string(h->count()) + "\n";
        }
        break;
    }
  }
  return out;
}

}  // namespace pokeflow::core::metrics
