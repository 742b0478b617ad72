#include "core/http/client.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <optional>
#include <stdexcept>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace pokeflow::core::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

struct pooled {
  explicit pooled(net::io_context& io) : stream(io) {}
  beast::tcp_stream stream;
  beast::flat_buffer buf;
};

struct waiter {
  explicit waiter(net::io_context& io) : timer(io) {}
  net::steady_timer timer;
  // Set by release(): a connection to reuse, or nullptr meaning "a slot is free, connect".
  std::optional<std::unique_ptr<pooled>> handed;
};

error_code normalize(error_code ec) {
  if (ec == beast::error::timeout) return net::error::timed_out;
  return ec;
}

// A keep-alive connection the server closed while it sat in the pool reads as EOF (or
// has data nobody asked for); either way it must not carry a request.
bool looks_alive(tcp::socket& s) {
  error_code ec;
  s.non_blocking(true, ec);
  if (ec) return false;
  char byte;
  s.receive(net::buffer(&byte, 1), tcp::socket::message_peek, ec);
  error_code ignored;
  s.non_blocking(false, ignored);
  return ec == net::error::would_block;
}

// Failures that mean "the server closed this reused connection before answering".
bool stale_error(const error_code& ec) {
  return ec == net::error::eof || ec == bhttp::error::end_of_stream || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::connection_aborted;
}

bool idempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS";
}

}  // namespace

base_url parse_base_url(std::string_view url) {
  auto bad = [&](const std::string& why) { return std::invalid_argument("bad URL '" + std::string(url) + "': " + why); };
  constexpr std::string_view http_scheme = "http://";
  auto lower_prefix = [&](std::string_view p) {
    if (url.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != p[i]) return false;
    return true;
  };
  if (lower_prefix("https://")) throw bad("https is not supported, use http://");
  if (!lower_prefix(http_scheme)) throw bad("must start with http://");
  std::string_view rest = url.substr(http_scheme.size());
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.empty()) throw bad("no host");
  if (authority.find('@') != std::string_view::npos) throw bad("user info is not supported");
  if (path.find_first_of("?#") != std::string_view::npos || authority.find_first_of("?#") != std::string_view::npos)
    throw bad("query and fragment are not allowed in a base URL");
  base_url out;
  out.authority = std::string(authority);
  std::string_view port_text;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) throw bad("unterminated IPv6 literal");
    out.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad("junk after IPv6 literal");
      port_text = after.substr(1);
      if (port_text.empty()) throw bad("empty port");
    }
  } else {
    auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) throw bad("empty port");
    }
  }
  if (out.host.empty()) throw bad("no host");
  if (!port_text.empty()) {
    unsigned long p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') throw bad("port is not a number");
      p = p * 10 + static_cast<unsigned long>(c - '0');
      if (p > 65535) throw bad("port out of range");
    }
    if (p == 0) throw bad("port out of range");
    out.port = static_cast<std::uint16_t>(p);
  }
  out.prefix = std::string(path);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  return out;
}

struct client::impl : std::enable_shared_from_this<client::impl> {
  impl(net::io_context& io_, base_url u, client_options o) : io(io_), url(std::move(u)), opts(o) {}

  net::io_context& io;
  base_url url;
  client_options opts;
  std::vector<std::unique_ptr<pooled>> idle;
  std::size_t slots = 0;  // connections in use, idle, or being opened
  std::deque<std::shared_ptr<waiter>> waiters;
  bool closed = false;

  // A pooled connection, or nullptr with a reserved slot to open one; ec on timeout.
  net::awaitable<std::pair<error_code, std::unique_ptr<pooled>>> acquire(net::steady_timer::time_point deadline) {
    if (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      co_return std::make_pair(error_code{}, std::move(c));
    }
    if (slots < opts.pool_size) {
      ++slots;
      co_return std::make_pair(error_code{}, std::unique_ptr<pooled>{});
    }
    auto w = std::make_shared<waiter>(io);
    w->timer.expires_at(deadline);
    waiters.push_back(w);
    co_await w->timer.async_wait(use_tuple);
    if (w->handed) co_return std::make_pair(error_code{}, std::move(*w->handed));
    waiters.erase(std::find(waiters.begin(), waiters.end(), w));
    co_return std::make_pair(error_code(net::error::timed_out), std::unique_ptr<pooled>{});
  }

  // Returns a slot: with a reusable connection, or nullptr when it was dropped.
  void release(std::unique_ptr<pooled> c) {
    if (!waiters.empty()) {
      auto w = waiters.front();
      waiters.pop_front();
      w->handed = std::move(c);
      w->timer.cancel();
      return;
    }
    if (c && !closed) idle.push_back(std::move(c));
    else --slots;
  }

  net::awaitable<std::pair<error_code, std::unique_ptr<pooled>>> connect(net::steady_timer::time_point deadline) {
    std::vector<tcp::endpoint> endpoints;
    error_code ec;
    auto addr = net::ip::make_address(url.host, ec);
    if (!ec) {
      endpoints.emplace_back(addr, url.port);
    } else {
      // The resolver runs getaddrinfo on Asio's internal thread; a timer bounds the wait.
      auto resolver = std::make_shared<tcp::resolver>(io);
      net::steady_timer guard(io);
      guard.expires_at(deadline);
      guard.async_wait([resolver](error_code tec) {
        if (!tec) resolver->cancel();
      });
      auto [rec, results] = co_await resolver->async_resolve(url.host, std::to_string(url.port), use_tuple);
      guard.cancel();
      if (rec == net::error::operation_aborted) rec = net::error::timed_out;
      if (rec) co_return std::make_pair(rec, std::unique_ptr<pooled>{});
      for (const auto& r : results) endpoints.push_back(r.endpoint());
      if (endpoints.empty()) co_return std::make_pair(error_code(net::error::host_not_found), std::unique_ptr<pooled>{});
    }
    auto c = std::make_unique<pooled>(io);
    c->stream.expires_at(deadline);
    auto [cec, ep] = co_await c->stream.async_connect(endpoints, use_tuple);
    if (cec) co_return std::make_pair(normalize(cec), std::unique_ptr<pooled>{});
    error_code ignored;
    c->stream.socket().set_option(tcp::no_delay(true), ignored);
    co_return std::make_pair(error_code{}, std::move(c));
  }

  net::awaitable<client_result> request(std::shared_ptr<impl> self, std::string method, std::string target,
                                        std::string body, header_map headers, std::chrono::milliseconds timeout) {
    client_result result;
    const auto deadline = net::steady_timer::clock_type::now() + timeout;
    if (target.empty() || target.front() != '/') target.insert(target.begin(), '/');

    bhttp::request<bhttp::string_body> req;
    req.version(11);
    auto verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) req.method_string(method);
    else req.method(verb);
    req.target(url.prefix + target);
    req.set(bhttp::field::host, url.authority);
    req.set(bhttp::field::user_agent, "pokeflow");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() && headers.find("Content-Type") == headers.end())
      req.set(bhttp::field::content_type, "application/json");
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();
    const bool may_retry = idempotent(method);

    for (int attempt = 0;; ++attempt) {
      auto [aec, conn] = co_await acquire(deadline);
      if (aec) {
        result.ec = aec;
        co_return result;
      }
      bool reused = conn != nullptr;
      if (conn && !looks_alive(conn->stream.socket())) {
        conn.reset();
        reused = false;
      }
      if (!conn) {
        auto [cec, fresh] = co_await connect(deadline);
        if (cec) {
          release(nullptr);
          result.ec = cec;
          co_return result;
        }
        conn = std::move(fresh);
      }
      conn->stream.expires_at(deadline);
      auto [wec, wn] = co_await bhttp::async_write(conn->stream, req, use_tuple);
      if (wec) {
        release(nullptr);
        if (reused && attempt == 0 && may_retry && stale_error(wec)) continue;
        result.ec = normalize(wec);
        co_return result;
      }
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(opts.max_response_bytes);
      if (req.method() == bhttp::verb::head) parser.skip(true);
      auto [rec, rn] = co_await bhttp::async_read(conn->stream, conn->buf, parser, use_tuple);
      if (rec) {
        release(nullptr);
        if (reused && attempt == 0 && may_retry && stale_error(rec)) continue;
        result.ec = normalize(rec);
        co_return result;
      }
      auto res = parser.release();
      conn->stream.expires_never();
      result.status = res.result_int();
      for (const auto& f : res) {
        auto [it, inserted] = result.headers.emplace(std::string(f.name_string()), std::string(f.value()));
        if (!inserted) it->second.append(", ").append(std::string(f.value()));
      }
      result.body = std::move(res.body());
      release(res.keep_alive() ? std::move(conn) : nullptr);
      co_return result;
    }
  }
};

client::client(net::io_context& io, std::string_view url, client_options options) {
  if (options.pool_size == 0) throw std::invalid_argument("http client: pool_size must be > 0");
  impl_ = std::make_shared<impl>(io, parse_base_url(url), options);
}

client::~client() { close(); }

net::awaitable<client_result> client::request(std::string method, std::string target, std::string body,
                                              header_map headers, std::chrono::milliseconds timeout) {
  // The coroutine holds the impl, so a client destroyed mid-request leaves no dangling state.
  return impl_->request(impl_, std::move(method), std::move(target), std::move(body), std::move(headers), timeout);
}

void client::close() noexcept {
  impl_->closed = true;
  impl_->slots -= impl_->idle.size();
  impl_->idle.clear();
}

const base_url& client::url() const noexcept { return impl_->url; }

}  // namespace pokeflow::core::http
