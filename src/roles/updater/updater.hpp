#pragma once
// The updater role (Order-Updater): poke-orders-state -> PUT /orders/{id} on the api.
#include <memory>

#include "core/runtime.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::roles::updater {

class updater : public core::service {
 public:
  updater(core::role_context ctx, updater_config cfg, kafka_config kafka);
  ~updater() override;
  updater(const updater&) = delete;
  updater& operator=(const updater&) = delete;

  void run() override;
  void stop() noexcept override;
  bool stopped() const noexcept override;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::roles::updater
