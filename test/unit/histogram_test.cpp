#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "roles/loadgen/histogram.hpp"

using pokeflow::roles::loadgen::histogram;

namespace {
// The exact answer with the same definition: the ceil(q/100 * n)-th smallest value.
std::uint64_t oracle(const std::vector<std::uint64_t>& sorted, double q) {
  auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * double(sorted.size()) - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::vector<std::uint64_t> latencies(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Log-normal around 1 ms with a long tail, plus a few huge outliers: every bucket regime.
  std::lognormal_distribution<double> d(std::log(1000.0), 1.5);
  std::vector<std::uint64_t> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<std::uint64_t>(d(rng)));
  v.push_back(0);
  v.push_back(60'000'000);
  return v;
}
}  // namespace

TEST_CASE("histogram buckets cover every value with 3 significant digits") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t v = rng() >> (rng() % 64);
    v %= (std::uint64_t{1} << 36) - 1;
    auto idx = histogram::index_of(v);
    REQUIRE(idx < histogram::bucket_count());
    REQUIRE(histogram::lowest_in(idx) <= v);
    REQUIRE(v <= histogram::highest_in(idx));
    auto width = histogram::highest_in(idx) - histogram::lowest_in(idx) + 1;
    REQUIRE(double(width) <= std::max(1.0, double(histogram::lowest_in(idx)) / 1024.0));
  }
  // Below the linear limit every value is its own bucket.
  for (std::uint64_t v = 0; v < histogram::linear_limit; ++v) REQUIRE(histogram::highest_in(histogram::index_of(v)) == v);
  // Buckets are contiguous and ordered.
  for (std::size_t i = 1; i < histogram::bucket_count(); ++i)
    REQUIRE(histogram::lowest_in(i) == histogram::highest_in(i - 1) + 1);
}

TEST_CASE("histogram percentiles match a sorted-array oracle within the bucket error") {
  for (std::uint64_t seed : {1, 2, 3}) {
    auto values = latencies(50000, seed);
    histogram h;
    for (auto v : values) h.record(v);
    auto sorted = values;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(h.count() == values.size());
    REQUIRE(h.max() == sorted.back());
    REQUIRE(h.min() == sorted.front());
    for (double q : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
      auto exact = oracle(sorted, q);
      auto got = h.percentile(q);
      INFO("q=" << q << " exact=" << exact << " got=" << got);
      REQUIRE(got >= exact);
      REQUIRE(double(got) <= double(exact) * (1.0 + 1.0 / 1024.0) + 1.0);
    }
    REQUIRE(h.percentile(100) == sorted.back());
  }
}

TEST_CASE("histogram small exact cases") {
  histogram h;
  REQUIRE(h.percentile(50) == 0);
  REQUIRE(h.max() == 0);
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  REQUIRE(h.percentile(50) == 50);
  REQUIRE(h.percentile(99) == 99);
  REQUIRE(h.percentile(99.9) == 100);
  REQUIRE(h.percentile(0) == 1);
  REQUIRE(h.mean() == Approx(50.5));
  h.record(7, 3);
  REQUIRE(h.count() == 103);
  h.reset();
  REQUIRE(h.count() == 0);
  REQUIRE(h.percentile(99) == 0);
}

TEST_CASE("histogram values beyond the range clamp into the top bucket, max stays exact") {
  histogram h;
  std::uint64_t huge = std::uint64_t{1} << 50;
  h.record(huge);
  h.record(5);
  REQUIRE(h.max() == huge);
  REQUIRE(h.percentile(100) == huge);
  REQUIRE(h.percentile(50) == 5);
}

TEST_CASE("histogram merge equals recording everything in one") {
  auto a = latencies(20000, 11), b = latencies(30000, 12);
  histogram ha, hb, all;
  for (auto v : a) ha.record(v), all.record(v);
  for (auto v : b) hb.record(v), all.record(v);
  ha.merge(hb);
  REQUIRE(ha.count() == all.count());
  REQUIRE(ha.max() == all.max());
  REQUIRE(ha.min() == all.min());
  REQUIRE(ha.mean() == Approx(all.mean()));
  for (double q : {50.0, 90.0, 99.0, 99.9}) REQUIRE(ha.percentile(q) == all.percentile(q));
  histogram empty;
  ha.merge(empty);
  REQUIRE(ha.count() == all.count());
  empty.merge(hb);
  REQUIRE(empty.min() == hb.min());
}
