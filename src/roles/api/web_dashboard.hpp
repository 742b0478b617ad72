#pragma once
// The data behind /dashboard: while someone watches (a request in the last minute), once a
// second it counts orders created and finalized per second in PostgreSQL, reads the outbox
// gauges and this api's POST /orders p99, and (in a loop of its own, so a slow broker never
// stalls the rest) each watched group's consumer lag and the DLQ's message count from Kafka.
// Nobody watching: no query at all.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::core::pg {
class pool;
}

namespace pokeflow::roles::api::web {

class dashboard : public std::enable_shared_from_this<dashboard> {
 public:
  struct sources {
    core::pg::pool& pool;
    kafka_config kafka;
    std::vector<std::string> groups;        // consumer groups whose lag is shown
    core::metrics::gauge& outbox_backlog;    // kept fresh by the api's stats loop
    core::metrics::gauge& outbox_oldest_age;
    core::metrics::registry& metrics;
    core::log::logger log;  // the api's
  };
  dashboard(boost::asio::io_context& io, sources src);
  ~dashboard();
  dashboard(const dashboard&) = delete;
  dashboard& operator=(const dashboard&) = delete;

  // One POST /orders served in `seconds` (for the p99 series).
  void observe_post(double seconds) noexcept;

  // Up to the last `seconds` seconds as JSON (see timeline::to_json, plus "now", "groups" and
  // "marks"), from when sampling began if that is later (at least 60 s); starts sampling if
  // it was idle.
  std::string data(int seconds);

  // A fault window mark (chaos suite); returns the error message when refused.
  std::optional<std::string> mark(std::string_view name, std::string_view phase);
  // Every fault window kept, as a JSON array.
  std::string marks_json() const;

  const std::vector<std::string>& groups() const noexcept;

  void stop() noexcept;
  bool stopped() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::roles::api::web
