// libFuzzer target: the HTTP request path as the api runs it, without a socket.
// The input is the byte stream a client sends on one connection (pipelined requests allowed).
// It goes through core::http::parse_requests, the same request_reader the server feeds from
// its socket (limits: read_limits defaults = the api's defaults), then every request is routed
// on the api's route table as server.cpp does, and the pure decoding the matched api handler
// starts with runs on it (JSON body, path id, list query, form body). Properties: a refusal is
// one of 400/413/431/501 with a detail; a parsed request's body is within the body limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <cstdio>
#include <cstdlib>

#include <boost/asio/awaitable.hpp>

#include "core/http/request_reader.hpp"
#include "core/http/router.hpp"
#include "core/json/codec.hpp"
#include "roles/api/list_query.hpp"

namespace {

using namespace pokeflow;
using core::http::request;
using core::http::response;

// The api's routes (src/roles/api/api.cpp and web.cpp). Handlers never run: the harness
// calls the decoding each one starts with, which is where untrusted bytes are read.
const core::http::router& api_routes() {
  static const core::http::router r = [] {
    core::http::router rt;
    auto none = [](request&) -> boost::asio::awaitable<response> { co_return response{}; };
    for (auto [m, p] : {std::pair{"POST", "/orders"}, {"GET", "/orders"}, {"DELETE", "/orders"},
                        {"GET", "/orders/{id}"}, {"PUT", "/orders/{id}"}, {"GET", "/create_order"},
                        {"POST", "/create_order"}, {"GET", "/list_orders"}, {"GET", "/docs"},
                        {"GET", "/openapi.json"}, {"GET", "/dashboard"}, {"GET", "/dashboard/data"},
                        {"POST", "/dashboard/marks"}, {"GET", "/static/pokeflow.css"}})
      rt.add(m, p, none);
    return rt;
  }();
  return r;
}

void handle(request& req) {
  auto m = api_routes().match(req.method, req.path);
  if (m.outcome != core::http::router::match_result::kind::found) return;
  req.route = m.pattern;
  req.path_params = std::move(m.params);
  if (req.route == "/orders" && req.method == "POST") {
    (void)core::json::parse_new_order(req.body);
  } else if (req.route == "/orders" || req.route == "/list_orders") {
    (void)roles::api::parse_list_query(req.query);
  } else if (req.route == "/orders/{id}") {
    (void)roles::api::parse_integer(req.path_params.at("id"));
    if (req.method == "PUT") (void)core::json::parse_state_update(req.body);
  } else if (req.route == "/create_order" || req.route == "/dashboard/marks") {
    (void)core::http::parse_query(req.body);
  }
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const core::http::read_limits limits{};
  auto out = core::http::parse_requests(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (out.error) {
    auto st = out.error->status;
    check(st == 400 || st == 413 || st == 431 || st == 501, "a refusal is 400, 413, 431 or 501");
    check(!out.error->detail.empty(), "a refusal names the problem");
  }
  for (auto& r : out.requests) {
    check(r.req.body.size() <= limits.max_body_bytes, "a body within the limit");
    handle(r.req);
  }
  return 0;
}
