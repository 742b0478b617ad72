#pragma once
// HTTP/1.1 server on Beast: keep-alive, pipelining, limits, per-route metrics, graceful stop.
// Beast stays in server.cpp (pimpl).
//
// Error policy (all with a JSON body {"detail": ...}):
//   unknown path 404; known path, other method 405 + Allow; malformed HTTP or ambiguous
//   framing 400 and close; a transfer coding other than chunked 501 and close; header block
//   over max_header_bytes or max_header_fields 431 and close; body over max_body_bytes 413
//   and close (request_reader.hpp has the details); handler throws 500 (the connection lives
//   on); handler still running after handler_deadline 503 + Retry-After (the handler is
//   cancelled); over max_connections, or over max_connections_per_client from one client
//   address: the connection is accepted, answered 503 with Retry-After and closed, so clients
//   fail fast instead of hanging in the kernel backlog. Slow requests (request_timeout) and
//   idle keep-alive connections (idle_timeout) are closed without a response. HEAD is
//   answered as GET with the body left out. No exception from reading, parsing or a handler
//   leaves a connection's coroutine.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/http/message.hpp"
#include "core/http/router.hpp"
#include "core/metrics.hpp"
#include "core/runtime.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::core::http {

struct server_limits {
  std::size_t max_body_bytes = 16 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_header_fields = 64;
  std::size_t max_connections = 1024;
  // Connections one client address (an IPv4 address, an IPv6 /64) may hold at once.
  std::size_t max_connections_per_client = 256;
  // Between requests on a keep-alive connection.
  std::chrono::milliseconds idle_timeout{30000};
  // From a request's first byte (or from accept, for a connection's first request) until
  // it is fully read; also bounds writing each response. Defeats slowloris.
  std::chrono::milliseconds request_timeout{10000};
  // Bound on running a request's handler (0 = none). Past it the handler is cancelled and
  // the answer is 503 with Retry-After: 1 (a slow dependency, not a slow client).
  std::chrono::milliseconds handler_deadline{0};
  // stop() waits at most this long for in-flight requests before closing their sockets.
  std::chrono::milliseconds drain_timeout{5000};

  static server_limits from(const api_config& c);
};

class server : public service {
 public:
  // name labels this listener in logs and in the http_connections gauge ("api", "admin").
  server(boost::asio::io_context& io, metrics::registry& metrics, std::string name, server_limits limits = {});
  ~server() override;
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Registers a route (see router::add); call before run(). Throws std::invalid_argument.
  void route(std::string method, std::string pattern, handler h);

  // Binds host:port (port 0 picks an ephemeral port). Throws std::system_error naming the
  // address on failure (in use, bad host). Call once, before run().
  void listen(const std::string& host, std::uint16_t port);
  // The bound port (after listen()).
  std::uint16_t port() const noexcept;

  // Starts accepting on the io_context. Throws std::logic_error if listen() was not called.
  void run() override;
  // Stops accepting, closes idle connections, lets in-flight requests finish (each then
  // closes) for at most drain_timeout, then closes what is left. Idempotent.
  void stop() noexcept override;
  bool stopped() const noexcept override;

  // Open connections being served (excludes ones being turned away with 503).
  std::size_t connections() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::core::http
