#pragma once
// The reverser role (Order-Reversed): pending longer than T -> reversed, in batches.
#include <memory>

#include "core/runtime.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::roles::reverser {

class reverser : public core::service {
 public:
  reverser(core::role_context ctx, reverser_config cfg, pg_config pg);
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
