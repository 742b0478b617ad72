#pragma once
// pokeflow_consumer_lag{group,topic,partition}: one gauge per assigned partition, shared by
// every consuming role so dashboards and the chaos timeline read one name.
#include <string>
#include <vector>

#include "core/kafka/types.hpp"
#include "core/metrics.hpp"

namespace pokeflow::core::kafka {

// Sets the gauge of every partition whose lag is known (lag() reports -1 before the first fetch).
void export_lag(metrics::registry& r, const std::string& group, const std::vector<partition_lag>& lags);
// A partition this consumer no longer owns: its lag is someone else's now, show 0, not a stale value.
void clear_lag(metrics::registry& r, const std::string& group, const std::vector<topic_partition>& partitions);

}  // namespace pokeflow::core::kafka
