// libFuzzer target: the HTTP request path as the api runs it, without a socket.
// The input is the byte stream a client sends on one connection (pipelined requests allowed).
// Each request goes through Beast's request_parser with the server's limits (server_limits
// defaults = the api's defaults), then the same steps as server::impl::serve: target check,
// query parsing, header joining, routing on the api's route table, and the pure decoding the
// matched api handler does first (JSON body, path id, list query, form body).
// Any exception escaping the parser (as Beast's std::length_error on a huge trailer did) is a
// crash here, because in the server it escapes io_context::run() and ends the process.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/http/router.hpp"
#include "core/http/server.hpp"
#include "core/json/codec.hpp"
#include "roles/api/list_query.hpp"

namespace {

namespace bhttp = boost::beast::http;
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

// One request from the front of `in`; false when the connection would be closed.
bool one_request(std::string_view& in) {
  static const core::http::server_limits limits{};
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  boost::system::error_code ec;
  for (;;) {
    std::size_t n = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
    in.remove_prefix(n);
    if (ec == bhttp::error::need_more) ec = {};
    if (ec || parser.is_done()) break;
    if (n == 0) {  // all input read: the client closed its side
      parser.put_eof(ec);
      break;
    }
  }
  if (ec || !parser.is_done()) return false;  // 400/413/431 and close, as fail_read does

  auto msg = parser.release();
  std::string_view target = msg.target();
  if (target.empty() || target.front() != '/') return msg.keep_alive();
  request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(target);
  auto q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    auto query = core::http::parse_query(target.substr(q + 1));
    if (!query) return msg.keep_alive();
    req.query = std::move(*query);
  }
  for (const auto& f : msg) {
    auto [it, inserted] = req.headers.emplace(std::string(f.name_string()), std::string(f.value()));
    if (!inserted) it->second.append(", ").append(f.value());
  }
  req.body = std::move(msg.body());
  handle(req);
  return msg.keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty() && one_request(in)) {
  }
  return 0;
}
