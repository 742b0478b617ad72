#include "core/http/server.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "core/http/request_reader.hpp"
#include "core/log.hpp"

namespace pokeflow::core::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Bounds the read-and-discard after a response that closes the connection: closing a
// socket with unread input makes the kernel send RST, which can destroy our response
// before the client reads it (a 413 client is usually still sending its body).
constexpr std::chrono::milliseconds linger_time{500};
constexpr std::size_t linger_bytes = 1 << 20;

struct connection {
  connection(tcp::socket s, std::string client) : stream(std::move(s)), client(std::move(client)) {}
  beast::tcp_stream stream;
  std::string client;  // the per-client cap's key (see client_key)
  bool idle = true;    // waiting for the first byte of a request: stop() may close it
};

std::string method_label(std::string_view method) {
  // Unknown verbs would let clients mint label values; fold them into one.
  if (method.empty() || bhttp::string_to_verb(method) == bhttp::verb::unknown) return "other";
  return std::string(method);
}

// One client for max_connections_per_client: an IPv4 address, or an IPv6 /64 (one host
// usually owns a whole /64, so counting single v6 addresses would cap nothing).
std::string client_key(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  if (a.is_v4()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return net::ip::address_v6(bytes).to_string() + "/64";
}

bhttp::response<bhttp::string_body> to_beast(response r, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> res;
  res.version(version == 10 ? 10 : 11);
  res.result(r.status >= 100 && r.status <= 599 ? r.status : 500);
  res.set(bhttp::field::server, "pokeflow");
  for (const auto& [k, v] : r.headers) res.set(k, v);
  if (!r.body.empty() || r.status != 204) res.set(bhttp::field::content_type, r.content_type);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

net::mutable_buffer to_buffer(std::span<char> s) { return {s.data(), s.size()}; }

// Reads and drops input until EOF, linger_bytes or linger_time, then closes.
net::awaitable<void> linger_close(beast::tcp_stream& s) {
  error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_send, ec);
  s.expires_after(linger_time);
  char buf[4096];
  std::size_t total = 0;
  while (total < linger_bytes) {
    auto [rec, n] = co_await s.async_read_some(net::buffer(buf), use_tuple);
    if (rec) break;
    total += n;
  }
  s.close();
}


}  // namespace

server_limits server_limits::from(const api_config& c) {
  server_limits l;
  l.max_body_bytes = c.max_body_bytes;
  l.max_connections = c.max_connections;
  l.max_connections_per_client = c.max_connections_per_client;
  l.idle_timeout = c.idle_timeout;
  l.request_timeout = c.request_timeout;
  l.handler_deadline = c.deadline;
  return l;
}

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(net::io_context& io_, metrics::registry& m, std::string n, server_limits l)
      : io(io_),
        registry(m),
        name(std::move(n)),
        limits(l),
        acceptor(io_),
        drain_timer(io_),
        open_gauge(m.get_gauge("http_connections", "Open HTTP connections being served", {{"listener", name}})),
        rejected(m.get_counter("http_connections_rejected_total",
                               "HTTP connections answered 503 because max_connections was reached",
                               {{"listener", name}})),
        deadline_exceeded(m.get_counter("http_requests_deadline_exceeded_total",
                                        "Requests answered 503 because their handler outlived the deadline",
                                        {{"listener", name}})) {}

  net::io_context& io;
  metrics::registry& registry;
  std::string name;
  server_limits limits;
  router routes;
  tcp::acceptor acceptor;
  net::steady_timer drain_timer;
  std::set<connection*> conns;
  std::map<std::string, std::size_t> per_client;  // open connections by client_key
  std::size_t rejecting = 0;
  bool listening = false;
  bool accepting = false;
  bool stopping = false;
  std::uint16_t bound_port = 0;
  metrics::gauge& open_gauge;
  metrics::counter& rejected;
  metrics::counter& deadline_exceeded;
  std::map<std::tuple<std::string, std::string, unsigned>, metrics::counter*> request_counters;
  std::map<std::string, metrics::histogram*> durations;

  void record(const std::string& route, const std::string& method, unsigned status, double seconds) {
    auto key = std::make_tuple(route, method, status);
    auto it = request_counters.find(key);
    if (it == request_counters.end()) {
      auto& c = registry.get_counter("http_requests_total", "HTTP requests served, by route pattern, method and status",
                                     {{"route", route}, {"method", method}, {"status", std::to_string(status)}});
      it = request_counters.emplace(key, &c).first;
    }
    it->second->inc();
    auto d = durations.find(route);
    if (d == durations.end()) {
      auto& h = registry.get_histogram("http_request_duration_seconds",
                                       "HTTP request latency from complete header to written response, by route",
                                       {{"route", route}});
      d = durations.emplace(route, &h).first;
    }
    d->second->observe(seconds);
  }

  void maybe_drained() {
    if (stopping && conns.empty() && rejecting == 0 && !accepting) drain_timer.cancel();
  }

  net::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
    accepting = true;
    net::steady_timer backoff(io);
    while (!stopping) {
      auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
      if (stopping) break;
      if (ec) {
        // EMFILE and friends persist; retrying at once would spin the io_context.
        log::warn("http accept failed", {{"listener", name}, {"error", ec.message()}});
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(use_tuple);
        continue;
      }
      std::string client;
      {
        error_code eec;
        auto ep = sock.remote_endpoint(eec);
        if (!eec) client = client_key(ep);
      }
      auto held = per_client.find(client);
      bool client_full = held != per_client.end() && held->second >= limits.max_connections_per_client;
      if (conns.size() >= limits.max_connections || client_full) {
        rejected.inc();
        if (rejecting < limits.max_connections) {
          ++rejecting;
          net::co_spawn(io, reject(self, std::move(sock)), net::detached);
        }
        continue;  // beyond that the socket just closes: answering costs too
      }
      error_code ignored;
      sock.set_option(tcp::no_delay(true), ignored);
      auto c = std::make_shared<connection>(std::move(sock), client);
      conns.insert(c.get());
      ++per_client[client];
      open_gauge.add(1);
      net::co_spawn(io, session(self, c), net::detached);
    }
    accepting = false;
    maybe_drained();
  }

  net::awaitable<void> reject(std::shared_ptr<impl> self, tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    try {
      stream.expires_after(std::min(limits.request_timeout, std::chrono::milliseconds(1000)));
      auto r = response::error(503, "Too many connections");
      r.headers["Retry-After"] = "1";
      auto res = to_beast(std::move(r), 11, false);
      auto [ec, n] = co_await bhttp::async_write(stream, res, use_tuple);
      if (!ec) co_await linger_close(stream);
    } catch (const std::exception& e) {
      log::error("http reject failed", {{"listener", name}, {"error", e.what()}});
    } catch (...) {
      log::error("http reject failed", {{"listener", name}});
    }
    --rejecting;
    maybe_drained();
  }

  net::awaitable<void> session(std::shared_ptr<impl> self, std::shared_ptr<connection> c) {
    try {
      co_await serve(*c);
    } catch (const std::exception& e) {
      log::error("http connection failed", {{"listener", name}, {"error", e.what()}});
    } catch (...) {
      log::error("http connection failed", {{"listener", name}, {"error", "unknown exception"}});
    }
    error_code ec;
    c->stream.socket().close(ec);
    conns.erase(c.get());
    if (auto it = per_client.find(c->client); it != per_client.end() && --it->second == 0) per_client.erase(it);
    open_gauge.add(-1);
    maybe_drained();
  }

  // Answers a request the reader refused (always closing: its framing cannot be trusted).
  net::awaitable<void> fail_read(connection& c, const read_error& err, std::chrono::steady_clock::time_point start) {
    std::string route = "unmatched";
    std::string method = method_label(err.method);
    if (err.status == 413 && !err.target.empty()) {
      std::string_view target = err.target;
      auto m = routes.match(err.method, target.substr(0, target.find('?')));
      if (m.outcome != router::match_result::kind::not_found) route = m.pattern;
    }
    auto res = to_beast(response::error(err.status, err.detail), 11, false);
    c.stream.expires_after(limits.request_timeout);
    auto [wec, n] = co_await bhttp::async_write(c.stream, res, use_tuple);
    record(route, method, err.status, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!wec) co_await linger_close(c.stream);
  }

  // Runs the handler against handler_deadline. When the deadline wins, the handler is
  // cancelled (its pending waits end with operation_aborted; a database connection it was
  // using is dropped) and the group waits for it to unwind before answering 503.
  net::awaitable<response> run_handler(const handler& h, request& req) {
    if (limits.handler_deadline.count() <= 0) co_return co_await h(req);
    net::steady_timer timer(io, limits.handler_deadline);
    auto [order, ex, res, tec] =
        co_await net::experimental::make_parallel_group(net::co_spawn(io, h(req), net::deferred),
                                                        timer.async_wait(net::deferred))
            .async_wait(net::experimental::wait_for_one(), net::use_awaitable);
    if (order[0] == 0) {
      if (ex) std::rethrow_exception(ex);
      co_return std::move(res);
    }
    deadline_exceeded.inc();
    log::warn("request deadline exceeded", {{"listener", name},
                                            {"route", req.route},
                                            {"method", req.method},
                                            {"deadline_ms", static_cast<std::int64_t>(limits.handler_deadline.count())}});
    auto r = response::error(503, "Request not completed within the " +
                                      std::to_string(limits.handler_deadline.count()) + " ms deadline; retry");
    r.headers["Retry-After"] = "1";
    co_return r;
  }

  net::awaitable<response> dispatch(request& req, bool& matched) {
    auto m = routes.match(req.method, req.path);
    switch (m.outcome) {
      case router::match_result::kind::not_found:
        matched = false;
        co_return response::error(404, "Not Found");
      case router::match_result::kind::method_not_allowed: {
        req.route = m.pattern;
        auto r = response::error(405, "Method Not Allowed");
        r.headers["Allow"] = m.allow;
        co_return r;
      }
      case router::match_result::kind::found:
        break;
    }
    req.route = m.pattern;
    req.path_params = std::move(m.params);
    try {
      co_return co_await run_handler(*m.h, req);
    } catch (const std::exception& e) {
      log::error("http handler threw",
                 {{"listener", name}, {"route", req.route}, {"method", req.method}, {"error", e.what()}});
    } catch (...) {
      log::error("http handler threw", {{"listener", name}, {"route", req.route}, {"method", req.method}});
    }
    co_return response::error(500, "Internal Server Error");
  }

  net::awaitable<void> serve(connection& c) {
    request_reader reader({limits.max_header_bytes, limits.max_header_fields, limits.max_body_bytes});
    std::string remote_address;
    std::uint16_t remote_port = 0;
    {
      error_code ec;
      auto ep = c.stream.socket().remote_endpoint(ec);
      if (!ec) {
        remote_address = ep.address().to_string();
        remote_port = ep.port();
      }
    }
    bool first = true;
    for (;;) {
      if (!reader.buffered()) {
        if (stopping) co_return;
        // Waiting for a request's first byte has its own (idle) deadline; a fresh connection
        // that sends nothing is held to request_timeout instead.
        c.idle = true;
        c.stream.expires_after(first ? limits.request_timeout : limits.idle_timeout);
        auto [ec, n] = co_await c.stream.async_read_some(to_buffer(reader.prepare()), use_tuple);
        c.idle = false;
        if (ec) co_return;  // peer closed, idle timeout, or stop()
        reader.commit(n);
      }
      first = false;

      // One deadline from a request's first byte to its last: a client trickling the header
      // or the body (slowloris) is cut off after request_timeout, whatever it sends.
      c.stream.expires_after(limits.request_timeout);
      auto start = std::chrono::steady_clock::now();
      bool continued = false;
      auto st = reader.parse();
      while (st == request_reader::status::need_more) {
        if (!continued && reader.awaiting_body_after_continue()) {
          continued = true;
          static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
          auto [ec, n] = co_await net::async_write(c.stream, net::buffer(cont.data(), cont.size()), use_tuple);
          if (ec) co_return;
        }
        auto [ec, n] = co_await c.stream.async_read_some(to_buffer(reader.prepare()), use_tuple);
        // Timeouts and peers that vanish mid-request get no answer: nobody would read it.
        if (ec) co_return;
        reader.commit(n);
        st = reader.parse();
      }
      if (st == request_reader::status::failed) {
        co_await fail_read(c, reader.error(), start);
        co_return;
      }

      auto parsed = reader.take();
      start = std::chrono::steady_clock::now();
      request& req = parsed.req;
      std::string method = method_label(req.method);
      // HEAD is GET without the body (RFC 9110 9.3.2): same status and headers, so a
      // keep-alive client reading no body stays in step with the stream.
      const bool head = req.method == "HEAD";
      if (head) req.method = "GET";
      req.remote_address = remote_address;
      req.remote_port = remote_port;
      std::string route = "unmatched";
      bool matched = true;
      response res = co_await dispatch(req, matched);
      if (matched) route = req.route;
      // Stopping (possibly while the handler ran): answer, but take no further request.
      auto out = to_beast(std::move(res), parsed.version, parsed.keep_alive && !stopping);
      c.stream.expires_after(limits.request_timeout);
      error_code wec;
      if (head) {
        bhttp::response_serializer<bhttp::string_body> sr(out);
        std::tie(wec, std::ignore) = co_await bhttp::async_write_header(c.stream, sr, use_tuple);
      } else {
        std::tie(wec, std::ignore) = co_await bhttp::async_write(c.stream, out, use_tuple);
      }
      record(route, method, out.result_int(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (wec) co_return;
      if (!out.keep_alive()) {
        co_await linger_close(c.stream);
        co_return;
      }
    }
  }
};

server::server(net::io_context& io, metrics::registry& metrics, std::string name, server_limits limits) {
  if (limits.max_connections == 0) throw std::invalid_argument("http server " + name + ": max_connections must be > 0");
  if (limits.max_header_bytes < 256) throw std::invalid_argument("http server " + name + ": max_header_bytes must be >= 256");
  if (limits.max_header_fields == 0 || limits.max_connections_per_client == 0)
    throw std::invalid_argument("http server " + name + ": max_header_fields and max_connections_per_client must be > 0");
  if (limits.idle_timeout.count() <= 0 || limits.request_timeout.count() <= 0 || limits.drain_timeout.count() < 0)
    throw std::invalid_argument("http server " + name + ": timeouts must be positive");
  impl_ = std::make_shared<impl>(io, metrics, std::move(name), limits);
}

server::~server() { stop(); }

void server::route(std::string method, std::string pattern, handler h) {
  impl_->routes.add(std::move(method), std::move(pattern), std::move(h));
}

void server::listen(const std::string& host, std::uint16_t port) {
  auto& s = *impl_;
  auto fail = [&](const error_code& ec, const char* what) {
    throw std::system_error(std::error_code(ec),
                            "http " + s.name + " listener: cannot " + what + " " + host + ":" + std::to_string(port));
  };
  if (s.listening) throw std::logic_error("http " + s.name + " listener: listen() called twice");
  error_code ec;
  tcp::resolver resolver(s.io);
  // Startup only, before the io_context runs: a blocking resolve is fine here.
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) fail(ec, "resolve");
  if (results.empty()) fail(net::error::host_not_found, "resolve");
  tcp::endpoint ep = results.begin()->endpoint();
  s.acceptor.open(ep.protocol(), ec);
  if (ec) fail(ec, "open");
  s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  s.acceptor.bind(ep, ec);
  if (ec) fail(ec, "bind");
  s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail(ec, "listen on");
  s.bound_port = s.acceptor.local_endpoint().port();
  s.listening = true;
  log::info("http listening", {{"listener", s.name}, {"host", host}, {"port", static_cast<unsigned>(s.bound_port)}});
}

std::uint16_t server::port() const noexcept { return impl_->bound_port; }

void server::run() {
  auto& s = *impl_;
  if (!s.listening) throw std::logic_error("http " + s.name + " listener: run() before listen()");
  if (s.accepting || s.stopping) return;
  s.accepting = true;
  net::co_spawn(s.io, s.accept_loop(impl_), net::detached);
}

void server::stop() noexcept {
  auto& s = *impl_;
  if (s.stopping) return;
  s.stopping = true;
  error_code ec;
  s.acceptor.close(ec);
  for (auto* c : s.conns)
    if (c->idle) c->stream.cancel();
  if (s.conns.empty() && s.rejecting == 0) return;
  try {
    s.drain_timer.expires_after(s.limits.drain_timeout);
    s.drain_timer.async_wait([self = impl_](error_code ec) {
      if (ec) return;
      if (!self->conns.empty())
        log::warn("http drain timed out, closing connections",
                  {{"listener", self->name}, {"connections", static_cast<std::int64_t>(self->conns.size())}});
      for (auto* c : self->conns) c->stream.close();
    });
  } catch (...) {
  }
}

bool server::stopped() const noexcept {
  const auto& s = *impl_;
  return s.stopping && !s.accepting && s.conns.empty() && s.rejecting == 0;
}

std::size_t server::connections() const noexcept { return impl_->conns.size(); }

}  // namespace pokeflow::core::http
