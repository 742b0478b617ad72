#pragma once
// The admin listener every role runs: GET /healthz, GET /readyz, GET /metrics.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/http/server.hpp"
#include "core/runtime.hpp"

namespace pokeflow::core::http {

// GET /healthz  200 {"status":"ok"}
// GET /readyz   runs every check concurrently, each bounded by check_timeout:
//               200 {"status":"ready"} or 503 {"status":"not ready","reasons":{"<name>":"<reason>"}}
// GET /metrics  200 text/plain; version=0.0.4, registry.render()
class admin_server : public service {
 public:
  admin_server(boost::asio::io_context& io, metrics::registry& metrics,
               std::chrono::milliseconds check_timeout = std::chrono::milliseconds(2000));
  ~admin_server() override;

  // A check returns nullopt when ready or a short reason. One that does not finish within
  // check_timeout is reported as "timed out"; one that throws, with its message.
  void add_readiness(std::string name, readiness_check check);

  // See server::listen (port 0: ephemeral, read it back with port()).
  void listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const noexcept;
  void run() override;
  void stop() noexcept override;
  bool stopped() const noexcept override;

  struct checks;

 private:
  std::shared_ptr<checks> checks_;
  std::unique_ptr<server> server_;
};

}  // namespace pokeflow::core::http
