#pragma once
// The api role (Poke-Order-API): HTTP orders API over PostgreSQL with a transactional outbox
// relayed to Kafka.
#include <memory>

#include "core/runtime.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::roles::api {

class api : public core::service {
 public:
  // Binds the listener (throws std::system_error if the port is taken); PostgreSQL and Kafka
  // are reached lazily, so a stopped stack shows up in /readyz and logs, not as a crash.
  api(core::role_context ctx, api_config api, pg_config pg, kafka_config kafka);
  ~api() override;
  api(const api&) = delete;
  api& operator=(const api&) = delete;

  void run() override;
  void stop() noexcept override;
  bool stopped() const noexcept override;

  std::uint16_t port() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::roles::api
