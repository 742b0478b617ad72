#pragma once
// A high-dynamic-range latency histogram in the spirit of HdrHistogram: log-linear buckets
// keep 3 significant digits (relative error <= 1/1024) from 1 to 2^36 microseconds in
// 256 KiB. Values are non-negative integers (microseconds here). Not thread-safe.
#include <cstdint>
#include <vector>

namespace pokeflow::roles::loadgen {

class histogram {
 public:
  // Sub-buckets per power of two above the linear range: 2^10 gives 3 significant digits.
  static constexpr int sub_bits = 10;
  static constexpr std::uint64_t linear_limit = std::uint64_t{2} << sub_bits;  // 2048: exact below
  static constexpr int max_exponent_bits = 36;                                // clamps above 2^36

  histogram();

  // Records v (count times). Values above the trackable range land in the top bucket;
  // max() stays exact.
  void record(std::uint64_t v, std::uint64_t count = 1) noexcept;
  // Adds every recording of other.
  void merge(const histogram& other) noexcept;
  void reset() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? double(sum_) / double(count_) : 0.0; }

  // The value at percentile q (0..100): the upper bound of the bucket holding the
  // ceil(q/100 * count)-th smallest recording, never above max(). 0 when empty.
  // It is >= the exact answer and within a factor 1 + 2^-sub_bits of it.
  std::uint64_t percentile(double q) const noexcept;

  // Bucket maths, exposed for tests.
  static std::size_t index_of(std::uint64_t v) noexcept;
  static std::uint64_t lowest_in(std::size_t index) noexcept;
  static std::uint64_t highest_in(std::size_t index) noexcept;
  static std::size_t bucket_count() noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t sum_ = 0;
};

}  // namespace pokeflow::roles::loadgen
