#include "roles/loadgen/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace pokeflow::roles::loadgen {
namespace {
constexpr std::uint64_t half = std::uint64_t{1} << histogram::sub_bits;  // sub-buckets per octave
constexpr std::uint64_t top_value = (std::uint64_t{1} << histogram::max_exponent_bits) - 1;
}  // namespace

// Layout: [0, linear_limit) one bucket per value; then for every octave [2^k, 2^(k+1)),
// k > sub_bits, `half` equal buckets of width 2^(k - sub_bits).
std::size_t histogram::index_of(std::uint64_t v) noexcept {
  if (v >= top_value) v = top_value;
  if (v < linear_limit) return static_cast<std::size_t>(v);
  int k = std::bit_width(v) - 1;     // v in [2^k, 2^(k+1)), k >= sub_bits + 1
  int shift = k - histogram::sub_bits;  // bucket width 2^shift
  std::uint64_t sub = (v >> shift) - half;  // 0 .. half-1
  return static_cast<std::size_t>(linear_limit + std::uint64_t(shift - 1) * half + sub);
}

std::uint64_t histogram::lowest_in(std::size_t index) noexcept {
  if (index < linear_limit) return index;
  std::uint64_t i = index - linear_limit;
  int shift = static_cast<int>(i / half) + 1;
  std::uint64_t sub = i % half;
  return (half + sub) << shift;
}

std::uint64_t histogram::highest_in(std::size_t index) noexcept {
  if (index < linear_limit) return index;
  std::uint64_t i = index - linear_limit;
  int shift = static_cast<int>(i / half) + 1;
  return lowest_in(index) + (std::uint64_t{1} << shift) - 1;
}

std::size_t histogram::bucket_count() noexcept { return index_of(top_value) + 1; }

histogram::histogram() : counts_(bucket_count(), 0) {}

void histogram::record(std::uint64_t v, std::uint64_t count) noexcept {
  if (count == 0) return;
  counts_[index_of(v)] += count;
  if (count_ == 0 || v < min_) min_ = v;
  if (v > max_) max_ = v;
  count_ += count;
  sum_ += v * count;
}

void histogram::merge(const histogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

void histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = min_ = max_ = sum_ = 0;
}

std::uint64_t histogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 100.0);
  // The epsilon keeps 99.9% of 1000 at rank 999 despite 0.999 * 1000 = 999.0000000000001.
  auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * double(count_) - 1e-9));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      if (i + 1 == counts_.size()) return max_;  // the clamp bucket: only max is known
      return std::min(highest_in(i), max_);
    }
  }
  return max_;
}

}  // namespace pokeflow::roles::loadgen
