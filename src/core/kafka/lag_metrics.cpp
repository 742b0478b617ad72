#include "core/kafka/lag_metrics.hpp"

namespace pokeflow::core::kafka {
namespace {
metrics::gauge& lag_gauge(metrics::registry& r, const std::string& group, const std::string& topic,
                          std::int32_t partition) {
  return r.get_gauge("pokeflow_consumer_lag", "Messages behind the high watermark per assigned partition",
                     {{"group", group}, {"topic", topic}, {"partition", std::to_string(partition)}});
}
}  // namespace

void export_lag(metrics::registry& r, const std::string& group, const std::vector<partition_lag>& lags) {
  for (const auto& l : lags)
    if (l.lag >= 0) lag_gauge(r, group, l.topic, l.partition).set(static_cast<double>(l.lag));
}

void clear_lag(metrics::registry& r, const std::string& group, const std::vector<topic_partition>& partitions) {
  for (const auto& tp : partitions) lag_gauge(r, group, tp.topic, tp.partition).set(0);
}

}  // namespace pokeflow::core::kafka
