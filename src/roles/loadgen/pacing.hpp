#pragma once
// The open model's schedule. Send times are fixed in advance, independent of how fast the
// server answers; latency is measured from these intended times so a stall shows up as
// latency instead of silently lowering the rate (no coordinated omission).
#include <chrono>
#include <cmath>
#include <cstdint>

namespace pokeflow::roles::loadgen {

// The n-th (0-based) intended send time: start + n / rate. Computed from n, not by adding
// an interval n times, so rounding never accumulates. rate must be > 0.
template <class Clock, class Duration>
std::chrono::time_point<Clock, Duration> intended_time(std::chrono::time_point<Clock, Duration> start,
                                                        std::uint64_t n, double rate) {
  auto offset = std::chrono::duration<double>(double(n) / rate);
  return start + std::chrono::round<Duration>(offset);
}

// How many orders the open model sends in `duration` at `rate`: those whose intended time
// falls in [start, start + duration). 0 when rate <= 0.
inline std::uint64_t planned_orders(std::chrono::milliseconds duration, double rate) {
  if (rate <= 0 || duration.count() <= 0) return 0;
  double exact = double(duration.count()) / 1000.0 * rate;
  auto n = static_cast<std::uint64_t>(std::ceil(exact - 1e-9));
  return n;
}

}  // namespace pokeflow::roles::loadgen
