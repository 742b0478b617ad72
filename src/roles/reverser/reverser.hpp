#pragma once
// The reverser role (Order-Reversed): pending longer than T -> reversed, in batches; and the
// re-driver: pending longer than --redrive-after with no decision -> its event re-published
// through the outbox (heals an order whose message a foreign consumer committed past).
#include <memory>
#include <string>

#include "core/runtime.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::roles::reverser {

class reverser : public core::service {
 public:
  // orders_topic: where re-driven events go (the api's --orders-topic).
  reverser(core::role_context ctx, reverser_config cfg, pg_config pg, std::string orders_topic);
  ~reverser() override;
  reverser(const reverser&) = delete;
  reverser& operator=(const reverser&) = delete;

  void run() override;
  void stop() noexcept override;
  bool stopped() const noexcept override;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::roles::reverser
