#pragma once
#include "core/metrics.hpp"

namespace pokeflow::core {

// process_resident_memory_bytes, process_cpu_seconds_total, process_start_time_seconds
// (read from /proc at scrape time).
void register_process_metrics(metrics::registry& r);

}  // namespace pokeflow::core
