#pragma once
// Prometheus text exposition (format 0.0.4). A registry is owned by main and passed by
// reference to whatever records metrics; handles returned are stable for its lifetime.
// All record operations are thread-safe and lock-free.
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pokeflow::core::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  void inc(double v = 1.0) noexcept;
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept;
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is +Inf).
  std::uint64_t bucket(std::size_t i) const noexcept { return counts_[i].load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 0.5 ms .. 10 s.
std::vector<double> default_latency_buckets();

class registry {
 public:
  // Returns the series with this name and labels, creating it (and its family) on first use.
  // Throws std::invalid_argument on an invalid name or a type clash with an existing family.
  counter& get_counter(const std::string& name, const std::string& help, const labels& l = {});
  gauge& get_gauge(const std::string& name, const std::string& help, const labels& l = {});
  histogram& get_histogram(const std::string& name, const std::string& help, const labels& l = {},
                           std::vector<double> bounds = default_latency_buckets());
  // A gauge computed at scrape time (e.g. outbox backlog read elsewhere, RSS).
  void add_callback_gauge(const std::string& name, const std::string& help, std::function<double()> fn);
  // A counter read at scrape time from a source that only grows (e.g. CPU seconds); the
  // name should end in _total. A callback that throws renders NaN.
  void add_callback_counter(const std::string& name, const std::string& help, std::function<double()> fn);

  std::string render() const;

 private:
  enum class kind { counter, gauge, histogram };
  struct family {
    kind k;
    std::string help;
    std::map<labels, std::unique_ptr<counter>> counters;
    std::map<labels, std::unique_ptr<gauge>> gauges;
    std::map<labels, std::unique_ptr<histogram>> histograms;
    std::function<double()> callback;
  };
  family& get_family(const std::string& name, const std::string& help, kind k);
  mutable std::mutex mutex_;
  std::map<std::string, family> families_;
};

}  // namespace pokeflow::core::metrics
