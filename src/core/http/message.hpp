#pragma once
// Plain request/response types shared by the HTTP server, router and client.
// No Beast here: roles include this header.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pokeflow::core::http {

// ASCII case-insensitive ordering, so header lookups ignore case as HTTP requires.
struct iless {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept;
};

// Field name -> value. A field repeated in a message is joined with ", " (RFC 9110 5.3).
using header_map = std::map<std::string, std::string, iless>;

struct request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // raw request target, e.g. "/orders?state=pending"
  std::string path;    // target without the query, not decoded
  std::map<std::string, std::string> query;        // decoded; the last of a repeated key wins
  std::map<std::string, std::string> path_params;  // decoded, from {name} segments
  header_map headers;
  std::string body;
  std::string remote_address;
  std::uint16_t remote_port = 0;
  std::string route;  // the matched pattern, e.g. "/orders/{id}"

  // The field's value, or nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
  // The query parameter's value, or nullopt when absent.
  std::optional<std::string_view> query_param(std::string_view name) const;
};

struct response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  header_map headers;  // extra fields, e.g. Location, WWW-Authenticate

  static response json(unsigned status, std::string body);
  // {"detail":"<detail>"}, the FastAPI error shape the seed's clients know.
  static response error(unsigned status, std::string_view detail);
};

}  // namespace pokeflow::core::http
