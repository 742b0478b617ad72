#include "core/http/admin.hpp"

#include <exception>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/text.hpp"

namespace pokeflow::core::http {
namespace {
namespace net = boost::asio;

server_limits admin_limits() {
  server_limits l;
  l.max_body_bytes = 4096;
  l.max_connections = 64;
  l.request_timeout = std::chrono::milliseconds(5000);
  l.drain_timeout = std::chrono::milliseconds(1000);
  return l;
}
}  // namespace

struct admin_server::checks {
  std::vector<std::pair<std::string, readiness_check>> list;
  std::chrono::milliseconds timeout;
};

namespace {

net::awaitable<response> readyz(std::shared_ptr<admin_server::checks> cs);

}  // namespace

admin_server::admin_server(net::io_context& io, metrics::registry& metrics, std::chrono::milliseconds check_timeout)
    : checks_(std::make_shared<checks>()), server_(std::make_unique<server>(io, metrics, "admin", admin_limits())) {
  checks_->timeout = check_timeout;
  server_->route("GET", "/healthz", [](request&) -> net::awaitable<response> {
    co_return response::json(200, R"({"status":"ok"})");
  });
  server_->route("GET", "/readyz", [cs = checks_](request&) { return readyz(cs); });
  server_->route("GET", "/metrics", [&metrics](request&) -> net::awaitable<response> {
    response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics.render();
    co_return r;
  });
}

admin_server::~admin_server() = default;

void admin_server::add_readiness(std::string name, readiness_check check) {
  checks_->list.emplace_back(std::move(name), std::move(check));
}

void admin_server::listen(const std::string& host, std::uint16_t port) { server_->listen(host, port); }
std::uint16_t admin_server::port() const noexcept { return server_->port(); }
void admin_server::run() { server_->run(); }
void admin_server::stop() noexcept { server_->stop(); }
bool admin_server::stopped() const noexcept { return server_->stopped(); }

namespace {

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return std::string("check failed: ") + x.what();
  } catch (...) {
    return "check failed";
  }
}

net::awaitable<response> readyz(std::shared_ptr<admin_server::checks> cs) {
  struct state {
    explicit state(net::any_io_executor ex, std::size_t n) : timer(ex), results(n), done(n, false), pending(n) {}
    net::steady_timer timer;
    std::vector<std::optional<std::string>> results;
    std::vector<bool> done;
    std::size_t pending;
  };
  auto ex = co_await net::this_coro::executor;
  const std::size_t n = cs->list.size();
  auto st = std::make_shared<state>(ex, n);
  // Concurrently, so one hanging dependency cannot hide the state of the others.
  for (std::size_t i = 0; i < n; ++i) {
    auto finish = [st, cs, i](std::exception_ptr e, std::optional<std::string> r) {
      if (st->done[i]) return;
      st->results[i] = e ? std::optional<std::string>(describe(e)) : std::move(r);
      st->done[i] = true;
      if (--st->pending == 0) st->timer.cancel();
    };
    try {
      net::co_spawn(ex, cs->list[i].second(), finish);
    } catch (...) {
      finish(std::current_exception(), std::nullopt);
    }
  }
  if (st->pending > 0) {
    st->timer.expires_after(cs->timeout);
    co_await st->timer.async_wait(net::as_tuple(net::use_awaitable));
  }
  std::string reasons;
  for (std::size_t i = 0; i < n; ++i) {
    std::optional<std::string> reason = st->done[i] ? st->results[i] : std::optional<std::string>("timed out");
    if (!reason) continue;
    if (!reasons.empty()) reasons += ",";
    reasons += "\"" + text::json_escape(cs->list[i].first) + "\":\"" + text::json_escape(*reason) + "\"";
  }
  if (reasons.empty()) co_return response::json(200, R"({"status":"ready"})");
  co_return response::json(503, R"({"status":"not ready","reasons":{)" + reasons + "}}");
}

}  // namespace

}  // namespace pokeflow::core::http
