#pragma once
// The fraud role (Detective-Pikachu): poke-orders -> decision -> poke-orders-state; poison -> DLQ.
#include <memory>

#include "core/runtime.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::roles::fraud {

class fraud : public core::service {
 public:
  // Loads and validates the rules file (throws pokeflow::config_error naming the problem).
  fraud(core::role_context ctx, fraud_config cfg, kafka_config kafka);
  ~fraud() override;
  fraud(const fraud&) = delete;
  fraud& operator=(const fraud&) = delete;

  void run() override;
  void stop() noexcept override;
  bool stopped() const noexcept override;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::roles::fraud
