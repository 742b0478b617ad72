#pragma once
// Routing table and the URL helpers it needs. Pure logic, no sockets: unit-testable alone.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/http/message.hpp"

namespace pokeflow::core::http {

using handler = std::function<boost::asio::awaitable<response>(request&)>;

// Decodes %XX escapes; with plus_is_space also '+' -> ' ' (query strings).
// Returns nullopt on a malformed escape ("%", "%4", "%zz").
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

// Encodes everything except unreserved characters (RFC 3986 2.3), for building targets.
std::string percent_encode(std::string_view s);

// Parses "a=1&b=x%20y" (no leading '?'). Empty pairs are skipped, a key without '=' maps
// to "", the last of a repeated key wins. Returns nullopt on a malformed escape.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view q);

// Matches a raw (undecoded) path against a pattern such as "/orders/{id}". A trailing
// slash on the path is ignored ("/orders/" matches "/orders"). Captured segments are
// percent-decoded into params. Returns false on no match or a malformed escape.
bool match_pattern(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params);

class router {
 public:
  // Registers a handler. Throws std::invalid_argument on a pattern that does not start with
  // '/', has an empty or malformed {} segment, or duplicates an existing (method, pattern).
  void add(std::string method, std::string pattern, handler h);

  struct match_result {
    enum class kind { found, not_found, method_not_allowed } outcome = kind::not_found;
    const handler* h = nullptr;
    std::string pattern;                            // set for found and method_not_allowed
    std::map<std::string, std::string> params;      // set for found
    std::string allow;                              // "GET, PUT" for method_not_allowed
  };
  // Finds the route for a raw path. When several patterns match, the one with literal
  // segments earliest wins ("/orders/stats" over "/orders/{id}").
  match_result match(std::string_view method, std::string_view path) const;

 private:
  struct route {
    std::string pattern;
    std::vector<std::string> segments;
    std::map<std::string, handler> by_method;
  };
  std::vector<route> routes_;
};

}  // namespace pokeflow::core::http
