#include "roles/api/web_timeline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/text.hpp"

namespace pokeflow::roles::api::web {
namespace {

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  out += buf;
}

template <class T>
void append_opt(std::string& out, const std::optional<T>& v) {
  if (v) append_number(out, static_cast<double>(*v));
  else out += "null";
}

void append_string(std::string& out, std::string_view s) {
  out += '"';
  out += core::text::json_escape(s);
  out += '"';
}

}  // namespace

timeline::timeline(std::vector<std::string> groups, std::size_t capacity_s)
    : groups_(std::move(groups)), capacity_(std::max<std::size_t>(capacity_s, 1)) {}

point* timeline::slot(std::int64_t second) {
  // Full, and older than everything kept: nowhere to put it.
  if (points_.size() >= capacity_ && second < points_.begin()->first) return nullptr;
  auto [it, inserted] = points_.try_emplace(second);
  if (inserted) {
    it->second.g.lag.resize(groups_.size());
    while (points_.size() > capacity_) points_.erase(points_.begin());  // never `it`: it is not the oldest
  }
  return &it->second;
}

const point* timeline::at(std::int64_t second) const {
  auto it = points_.find(second);
  return it == points_.end() ? nullptr : &it->second;
}

std::optional<std::int64_t> timeline::first_second() const {
  if (points_.empty()) return std::nullopt;
  return points_.begin()->first;
}

void timeline::set_counts(std::int64_t complete_from, std::int64_t until, const std::vector<count_row>& rows) {
  if (until < complete_from) return;
  // Never more seconds than are kept.
  complete_from = std::max<std::int64_t>(complete_from, until - static_cast<std::int64_t>(capacity_) + 1);
  for (auto s = complete_from; s <= until; ++s) {
    if (auto* p = slot(s)) {
      p->created = 0;
      p->finalized.fill(0);
    }
  }
  for (const auto& r : rows) {
    if (r.second < complete_from || r.second > until) continue;
    auto* p = slot(r.second);
    if (!p) continue;
    if (!r.state) *p->created += r.count;
    else if (*r.state < p->finalized.size()) *p->finalized[*r.state] += r.count;
  }
}

void timeline::set_gauges(std::int64_t second, gauges g) {
  g.lag.resize(groups_.size());
  if (auto* p = slot(second)) p->g = std::move(g);
}

std::string timeline::to_json(std::int64_t from, std::int64_t to) const {
  std::string out;
  out.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, to - from + 1)) * 96 + 256);
  auto series = [&](const char* name, auto get) {
    out += '"';
    out += name;
    out += "\":[";
    for (auto s = from; s <= to; ++s) {
      if (s != from) out += ',';
      const point* p = at(s);
      if (p) append_opt(out, get(*p));
      else out += "null";
    }
    out += ']';
  };
  out += "{\"t\":[";
  for (auto s = from; s <= to; ++s) {
    if (s != from) out += ',';
    out += std::to_string(s);
  }
  out += "],";
  series("created", [](const point& p) { return p.created; });
  out += ",\"finalized\":{";
  for (std::size_t i = 0; i < finalized_states.size(); ++i) {
    if (i) out += ',';
    std::string name(finalized_states[i]);
    out += '"' + name + "\":[";
    for (auto s = from; s <= to; ++s) {
      if (s != from) out += ',';
      const point* p = at(s);
      if (p) append_opt(out, p->finalized[i]);
      else out += "null";
    }
    out += ']';
  }
  out += "},\"lag\":{";
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    if (i) out += ',';
    append_string(out, groups_[i]);
    out += ":[";
    for (auto s = from; s <= to; ++s) {
      if (s != from) out += ',';
      const point* p = at(s);
      if (p && i < p->g.lag.size()) append_opt(out, p->g.lag[i]);
      else out += "null";
    }
    out += ']';
  }
  out += "},";
  series("outbox_backlog", [](const point& p) { return p.g.outbox_backlog; });
  out += ',';
  series("outbox_oldest_age_s", [](const point& p) { return p.g.outbox_oldest_age_s; });
  out += ',';
  series("dlq_messages", [](const point& p) { return p.g.dlq_messages; });
  out += ',';
  series("post_p99_ms", [](const point& p) { return p.g.post_p99_ms; });
  out += '}';
  return out;
}

std::optional<std::string> marks::add(std::string_view name, std::string_view phase, double now) {
  if (name.empty()) return std::string("name is required");
  if (utf8_length(name) > 200) return std::string("name is longer than 200 characters");
  if (phase == "start") {
    for (const auto& m : marks_)
      if (m.name == name && !m.end) return std::nullopt;  // already open
    marks_.push_back({std::string(name), now, std::nullopt});
    while (marks_.size() > capacity_) marks_.pop_front();
    return std::nullopt;
  }
  if (phase == "end") {
    for (auto it = marks_.rbegin(); it != marks_.rend(); ++it) {
      if (it->name != name) continue;
      it->end = std::max(now, it->end.value_or(now));
      return std::nullopt;
    }
    return "no fault window named '" + std::string(name) + "' was started";
  }
  return "phase must be 'start' or 'end', not '" + std::string(phase) + "'";
}

std::string marks::to_json(double from, double to) const {
  std::string out = "[";
  bool first = true;
  for (const auto& m : marks_) {
    if (m.start > to || (m.end && *m.end < from)) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    append_string(out, m.name);
    out += ",\"start\":";
    append_number(out, m.start);
    out += ",\"end\":";
    append_opt(out, m.end);
    out += '}';
  }
  out += ']';
  return out;
}

void latency_window::observe(double ms) {
  ++seen_;
  if (samples_.size() < cap_) {
    samples_.push_back(ms);
    return;
  }
  // Reservoir sampling (xorshift for the index): every sample equally likely to be kept.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  auto j = rng_ % seen_;
  if (j < cap_) samples_[static_cast<std::size_t>(j)] = ms;
}

std::optional<double> latency_window::take_p99() {
  auto p = percentile(std::move(samples_), 99);
  samples_.clear();
  seen_ = 0;
  return p;
}

std::size_t utf8_length(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::optional<double> percentile(std::vector<double> values, double q) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  return values[rank - 1];
}

}  // namespace pokeflow::roles::api::web
