#pragma once
// Helpers for the HTTP integration tests: everything runs as coroutines on one io_context
// in the test thread, against real sockets on 127.0.0.1.
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

// GCC 12 warns falsely on Asio's coroutine frame allocator.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Never write co_await inside CHECK/REQUIRE: Catch repeats the expression in a
// `while (false && (expr))` that GCC 12 still evaluates in a coroutine, awaiting twice.
// Await into a local, then check it.
namespace http_test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using raw_response = bhttp::response<bhttp::string_body>;

// Runs body to completion on io (the servers under test share it), rethrowing its failure.
// A test that waits 30 s with nothing happening has hung: fail instead of blocking CI.
inline void run(net::io_context& io, std::function<net::awaitable<void>()> body) {
  bool done = false;
  std::exception_ptr error;
  net::co_spawn(io, body(), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  io.restart();
  while (!done) {
    if (io.run_one_for(30s) == 0) FAIL("io_context idle for 30 s: the test hung");
  }
  if (error) std::rethrow_exception(error);
}

// Runs io until pred() holds or limit passes; returns pred().
inline bool run_until(net::io_context& io, std::function<bool()> pred, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!pred() && std::chrono::steady_clock::now() < end) io.run_one_for(20ms);
  return pred();
}

inline net::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  net::steady_timer t(co_await net::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(net::use_awaitable);
}

// A hand-driven client connection, to send exactly the bytes a test needs.
struct raw_conn {
  explicit raw_conn(net::io_context& io) : stream(io) {}
  beast::tcp_stream stream;
  beast::flat_buffer buf;

  net::awaitable<void> connect(std::uint16_t port) {
    stream.expires_after(5s);
    co_await stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), net::use_awaitable);
  }
  net::awaitable<void> send(std::string data) {
    stream.expires_after(5s);
    co_await net::async_write(stream, net::buffer(data), net::use_awaitable);
  }
  net::awaitable<raw_response> recv() {
    stream.expires_after(5s);
    raw_response r;
    co_await bhttp::async_read(stream, buf, r, net::use_awaitable);
    co_return r;
  }
  // Reads until the peer closes (returns eof/reset) or limit passes (returns timeout).
  net::awaitable<boost::system::error_code> wait_closed(std::chrono::milliseconds limit) {
    stream.expires_after(limit);
    char tmp[4096];
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(net::buffer(tmp), net::as_tuple(net::use_awaitable));
      if (ec) co_return ec;
    }
  }
};

inline bool closed_by_peer(const boost::system::error_code& ec) {
  return ec == net::error::eof || ec == bhttp::error::end_of_stream || ec == net::error::connection_reset;
}

}  // namespace http_test
