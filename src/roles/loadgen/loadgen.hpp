#pragma once
// The loadgen role: synthetic orders against the api (POST /orders).
//   closed model (rate == 0): --users users in parallel, each placing --orders-per-user orders
//     with --delay between them (the seed's shape; user ids from --user-ids, cycled).
//   open model (rate > 0): orders at fixed intended times start + n / rate for --duration;
//     latency is measured from the intended time, so a slow api shows up as latency.
// Prints a progress line on stderr every second; at the end a table on stderr and a JSON
// summary on stdout (and in --summary-json). Acknowledged orders go to the --ledger CSV.
// When done it asks the process to exit: 0, or 1 if no order was acknowledged.
#include <memory>

#include "core/runtime.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::roles::loadgen {

class loadgen : public core::service {
 public:
  // Reads the name lists and creates the ledger. Throws pokeflow::config_error naming the
  // file or option (missing list, unwritable ledger or summary, bad --api-url).
  loadgen(core::role_context ctx, loadgen_config cfg);
  ~loadgen() override;
  loadgen(const loadgen&) = delete;
  loadgen& operator=(const loadgen&) = delete;

  void run() override;
  // Stops sending, waits briefly for answers in flight, then writes the summary. Idempotent.
  void stop() noexcept override;
  bool stopped() const noexcept override;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::roles::loadgen
