#pragma once
// Keep-alive HTTP/1.1 client for one base URL, with a small connection pool.
// Beast stays in client.cpp (pimpl).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "core/http/message.hpp"

namespace boost::asio {
class io_context;
}

namespace pokeflow::core::http {

struct base_url {
  std::string host;       // without brackets for IPv6
  std::uint16_t port = 80;
  std::string authority;  // as written, for the Host field
  std::string prefix;     // path prefix without trailing '/', usually empty
};
// Parses "http://host[:port][/prefix]". Throws std::invalid_argument naming the URL for
// https (not supported), other schemes, userinfo, query/fragment, or a bad port.
base_url parse_base_url(std::string_view url);

struct client_options {
  std::size_t pool_size = 4;                  // persistent connections, at most
  std::size_t max_response_bytes = 8u << 20;  // larger bodies fail with http::error::body_limit
};

struct client_result {
  // Empty on a complete response (any status). Otherwise, among others:
  // asio::error::connection_refused, asio::error::timed_out (the whole call's timeout,
  // including waiting for a pooled connection), asio::error::host_not_found,
  // asio::error::eof / connection_reset (peer closed), beast http errors (bad response).
  boost::system::error_code ec;
  unsigned status = 0;
  std::string body;
  header_map headers;

  bool ok() const noexcept { return !ec; }
};

class client {
 public:
  // Throws std::invalid_argument on a bad base URL (see parse_base_url) or pool_size 0.
  client(boost::asio::io_context& io, std::string_view base_url, client_options options = {});
  // Closes idle connections; requests in flight still complete.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Sends method target (relative to the base URL's prefix, e.g. "/orders/7") and returns
  // the response or an error code; never throws for I/O failures. The timeout covers
  // everything (waiting for a pooled connection, resolve, connect, write, read). A pooled
  // connection the server has closed is replaced before use; if it fails mid-request, an
  // idempotent method (GET, HEAD, PUT, DELETE, OPTIONS) is retried once on a new
  // connection. Content-Type defaults to application/json when a body is given.
  boost::asio::awaitable<client_result> request(std::string method, std::string target, std::string body = {},
                                                header_map headers = {},
                                                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  // Drops idle pooled connections (e.g. on stop()).
  void close() noexcept;

  const base_url& url() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace pokeflow::core::http
