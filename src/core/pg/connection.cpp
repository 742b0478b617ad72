#include "core/pg/connection.hpp"

#include <libpq-fe.h>

#include <optional>
#include <stdexcept>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/pg/detail.hpp"

namespace pokeflow::core::pg {

namespace asio = boost::asio;
using asio::awaitable;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

enum class ready { read, write, timeout, error };

}  // namespace

struct connection::impl {
  asio::any_io_executor ex;
  PGconn* conn = nullptr;
  // Wraps libpq's socket without owning it: released before libpq closes it.
  asio::posix::stream_descriptor sd;
  bool broken = false;
  bool busy = false;
  std::string last_io_error;
  // Client-side bound on one query or script (0 = none), and the running operation's
  // deadline. A statement whose answer does not arrive in time leaves the protocol state
  // unknown (the bytes may still come), so the connection is marked broken and dropped.
  std::chrono::milliseconds op_timeout{0};
  std::optional<clock::time_point> op_deadline;
  bool timed_out = false;

  explicit impl(asio::any_io_executor e) : ex(std::move(e)), sd(ex) {}
  ~impl() { close(); }

  void release_socket() noexcept {
    if (!sd.is_open()) return;
    try {
      sd.release();
    } catch (...) {
    }
  }

  void close() noexcept {
    release_socket();
    if (conn) PQfinish(conn);
    conn = nullptr;
    broken = false;
  }

  // A failed connect: close what libpq started, then hand the failure back.
  result closed(result r) noexcept {
    close();
    return r;
  }

  // libpq may close or replace its socket inside PQconnectPoll, PQconsumeInput, PQflush,
  // ... Called right after such calls, before anything else can reuse the fd number, so
  // the reactor never keeps a registration for a descriptor libpq closed. `force`
  // re-registers even for the same number (during connect a new socket may get it).
  void sync_socket(bool force) {
    int fd = conn ? PQsocket(conn) : -1;
    if (!force && sd.is_open() && sd.native_handle() == fd) return;
    release_socket();
    if (fd < 0) return;
    boost::system::error_code ec;
    sd.assign(fd, ec);
    if (ec) {
      broken = true;
      last_io_error = "cannot watch the PostgreSQL socket: " + ec.message();
    }
  }

  // libpq prints notices to stderr by default, which would break our one-JSON-object-per-line
  // logs. It also routes a FATAL that arrives while idle (pg_terminate_backend, server
  // shutdown) here: the server closes the session right after, so mark it broken now.
  static void on_notice(void* arg, const PGresult* r) {
    auto* self = static_cast<impl*>(arg);
    const char* sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    std::string msg = detail::one_line(primary ? primary : PQresultErrorMessage(r));
    if (sev && (std::string_view(sev) == "FATAL" || std::string_view(sev) == "PANIC")) {
      self->broken = true;
      self->last_io_error = msg;
      log::info("postgres closed the session", {{"message", msg}});
      return;
    }
    log::debug("postgres notice", {{"message", msg}});
  }

  std::string where() const {
    if (!conn) return "postgres";
    std::string h = PQhost(conn) ? PQhost(conn) : "";
    std::string p = PQport(conn) ? PQport(conn) : "";
    return "postgres " + h + ":" + p;
  }

  // Marks the connection unusable and describes why (libpq's message, else ours).
  result io_failure(std::string fallback = {}) {
    broken = true;
    sync_socket(false);
    std::string msg = conn ? detail::one_line(PQerrorMessage(conn)) : std::string();
    if (msg.empty()) msg = !last_io_error.empty() ? last_io_error : fallback;
    if (msg.empty()) msg = "connection to " + where() + " lost";
    return result::failure(error_kind::connection, std::move(msg));
  }

  // The operation's deadline passed: the connection is given up (see op_timeout).
  result timeout_failure() {
    broken = true;
    timed_out = true;
    return result::failure(error_kind::timeout, "no answer from " + where() + " within " +
                                                    std::to_string(op_timeout.count()) +
                                                    "ms; connection dropped");
  }

  // Arms the deadline for one query or script.
  void begin_op() {
    timed_out = false;
    if (op_timeout.count() > 0) op_deadline = clock::now() + op_timeout;
    else op_deadline.reset();
  }

  awaitable<boost::system::error_code> wait_one(asio::posix::descriptor_base::wait_type w) {
    auto [ec] = co_await sd.async_wait(w, use_tuple);
    co_return ec;
  }

  awaitable<void> sleep_until(clock::time_point tp) {
    asio::steady_timer t(ex, tp);
    co_await t.async_wait(use_tuple);
  }

  // Waits for the socket, bounded by the running operation's deadline if it has one.
  awaitable<ready> wait_io(bool want_read, bool want_write) {
    if (op_deadline) co_return co_await wait_io_until(want_read, want_write, *op_deadline);
    co_return co_await wait_io_unbounded(want_read, want_write);
  }

  awaitable<ready> wait_io_unbounded(bool want_read, bool want_write) {
    using namespace asio::experimental::awaitable_operators;
    using wt = asio::posix::descriptor_base;
    if (!sd.is_open()) {
      last_io_error = "PostgreSQL socket is closed";
      co_return ready::error;
    }
    boost::system::error_code ec;
    ready which = want_read ? ready::read : ready::write;
    if (want_read && want_write) {
      auto v = co_await (wait_one(wt::wait_read) || wait_one(wt::wait_write));
      which = v.index() == 0 ? ready::read : ready::write;
      ec = v.index() == 0 ? std::get<0>(v) : std::get<1>(v);
    } else {
      ec = co_await wait_one(want_read ? wt::wait_read : wt::wait_write);
    }
    if (ec) {
      last_io_error = "waiting on the PostgreSQL socket: " + ec.message();
      co_return ready::error;
    }
    co_return which;
  }

  awaitable<ready> wait_io_until(bool want_read, bool want_write, clock::time_point deadline) {
    using namespace asio::experimental::awaitable_operators;
    auto v = co_await (wait_io_unbounded(want_read, want_write) || sleep_until(deadline));
    if (v.index() == 1) co_return ready::timeout;
    co_return std::get<0>(v);
  }

  awaitable<result> connect(std::string conninfo, std::chrono::milliseconds timeout) {
    close();
    last_io_error.clear();
    const auto deadline = clock::now() + timeout;
    // A malformed string is a configuration error (not retryable); everything failing
    // after this point (DNS, refused, auth) is about reaching the server.
    // (A bare word is a database name, which expand_dbname accepts but the parser does not.)
    char* parse_error = nullptr;
    if (conninfo.find('=') == std::string::npos && conninfo.find("://") == std::string::npos) {
    } else if (PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &parse_error)) {
      PQconninfoFree(opts);
    } else {
      std::string msg = parse_error ? detail::one_line(parse_error) : "out of memory";
      if (parse_error) PQfreemem(parse_error);
      co_return result::failure(error_kind::invalid, "bad PostgreSQL connection string: " + msg);
    }
    // expand_dbname lets the whole keyword/value string (or URI) ride in "dbname".
    const char* keys[] = {"dbname", nullptr};
    const char* values[] = {conninfo.c_str(), nullptr};
    conn = PQconnectStartParams(keys, values, 1);
    if (!conn) co_return result::failure(error_kind::resources, "libpq: out of memory");
    if (PQstatus(conn) == CONNECTION_BAD) {
      co_return closed(result::failure(error_kind::connection, detail::one_line(PQerrorMessage(conn))));
    }
    PQsetNoticeReceiver(conn, on_notice, this);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
      if (st == PGRES_POLLING_FAILED) {
        co_return closed(result::failure(error_kind::connection, detail::one_line(PQerrorMessage(conn))));
      }
      sync_socket(true);
      if (broken) {
        co_return closed(io_failure());
      }
      ready w = co_await wait_io_until(st == PGRES_POLLING_READING, st == PGRES_POLLING_WRITING, deadline);
      if (w == ready::timeout) {
        co_return closed(result::failure(error_kind::timeout, "connecting to " + where() + " timed out after " +
                                                          std::to_string(timeout.count()) + "ms"));
      }
      if (w == ready::error) {
        co_return closed(result::failure(error_kind::connection, "connecting to " + where() + ": " + last_io_error));
      }
      st = PQconnectPoll(conn);
    }
    if (PQsetnonblocking(conn, 1) != 0) {
      co_return closed(result::failure(error_kind::connection, detail::one_line(PQerrorMessage(conn))));
    }
    sync_socket(true);
    if (broken) {
      co_return closed(io_failure());
    }
    co_return result{};
  }

  result not_usable() const {
    return result::failure(error_kind::connection,
                           conn ? "connection to " + where() + " is broken" : "not connected to postgres");
  }

  // Sends what libpq buffered; reads meanwhile so a server blocked on writing results to
  // us can never deadlock against us blocked on writing statements to it.
  awaitable<std::optional<result>> flush() {
    for (;;) {
      int r = PQflush(conn);
      if (r == 0) co_return std::nullopt;
      if (r < 0) co_return io_failure();
      ready w = co_await wait_io(true, true);
      if (w == ready::timeout) co_return timeout_failure();
      if (w == ready::error) co_return io_failure();
      if (w == ready::read && !PQconsumeInput(conn)) co_return io_failure();
    }
  }

  // The next PGresult once it can be had without blocking; nullptr ends a statement's
  // results (or, if `broken` is set, the connection is gone).
  awaitable<PGresult*> next_result() {
    while (PQisBusy(conn)) {
      ready w = co_await wait_io(true, false);
      if (w == ready::timeout) {
        timeout_failure();
        co_return nullptr;
      }
      if (w == ready::error || !PQconsumeInput(conn)) {
        broken = true;
        sync_socket(false);
        // libpq may already hold the server's last words (e.g. 57P01 terminating
        // connection); PQgetResult only blocks while busy, so ask only if it is not.
        if (PQisBusy(conn)) co_return nullptr;
        break;
      }
    }
    PGresult* r = PQgetResult(conn);
    if (PQstatus(conn) == CONNECTION_BAD) broken = true;
    sync_socket(false);
    co_return r;
  }

  // Drains the results of one statement or script: the first error wins, else the last.
  awaitable<result> collect() {
    std::optional<result> out;
    for (;;) {
      PGresult* raw = co_await next_result();
      if (!raw) break;
      result r = result::from_pg(raw, "");
      if (!out || out->ok()) out = std::move(r);
    }
    if (timed_out) co_return timeout_failure();
    if (broken && (!out || out->ok())) co_return io_failure();
    if (!out) co_return result{};
    co_return std::move(*out);
  }

  awaitable<result> query(std::string sql, std::vector<param> params) {
    if (!conn || broken) co_return not_usable();
    begin_op();
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.text() ? p.text()->c_str() : nullptr);
    if (!PQsendQueryParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                           nullptr, 0))
      co_return io_failure();
    if (auto f = co_await flush()) co_return std::move(*f);
    co_return co_await collect();
  }

  awaitable<result> script(std::string sql) {
    if (!conn || broken) co_return not_usable();
    begin_op();
    if (!PQsendQuery(conn, sql.c_str())) co_return io_failure();
    if (auto f = co_await flush()) co_return std::move(*f);
    co_return co_await collect();
  }
};

namespace {
// Marks the connection broken when an operation does not run to completion (its
// coroutine destroyed mid-way, or an exception): the protocol state is then unknown.
struct op_guard {
  bool& busy;
  bool& broken;
  bool done = false;
  op_guard(bool& b, bool& br) : busy(b), broken(br) {
    if (busy) throw std::logic_error("pg::connection: another operation is in progress on this connection");
    busy = true;
  }
  ~op_guard() {
    busy = false;
    if (!done) broken = true;
  }
};
}  // namespace

connection::connection(asio::any_io_executor ex) : impl_(std::make_unique<impl>(std::move(ex))) {}
connection::~connection() = default;

awaitable<result> connection::connect(std::string conninfo, std::chrono::milliseconds timeout) {
  op_guard g(impl_->busy, impl_->broken);
  auto r = co_await impl_->connect(std::move(conninfo), timeout);
  g.done = true;
  co_return r;
}

awaitable<result> connection::query(std::string sql, std::vector<param> params) {
  op_guard g(impl_->busy, impl_->broken);
  auto r = co_await impl_->query(std::move(sql), std::move(params));
  g.done = true;
  co_return r;
}

awaitable<result> connection::script(std::string sql) {
  op_guard g(impl_->busy, impl_->broken);
  auto r = co_await impl_->script(std::move(sql));
  g.done = true;
  co_return r;
}

bool connection::healthy() const noexcept {
  return impl_->conn && !impl_->broken && PQstatus(impl_->conn) == CONNECTION_OK;
}

bool connection::check_alive() noexcept {
  auto& i = *impl_;
  if (i.busy) return true;
  if (!healthy()) return false;
  // Twice: the first read may return only the server's goodbye, the second its EOF.
  if (!PQconsumeInput(i.conn) || !PQconsumeInput(i.conn) || i.broken || PQstatus(i.conn) != CONNECTION_OK) {
    i.broken = true;
    i.sync_socket(false);
    return false;
  }
  return true;
}

bool connection::in_transaction() const noexcept {
  if (!impl_->conn) return false;
  return PQtransactionStatus(impl_->conn) != PQTRANS_IDLE;
}

void connection::set_query_timeout(std::chrono::milliseconds timeout) noexcept { impl_->op_timeout = timeout; }

std::chrono::milliseconds connection::query_timeout() const noexcept { return impl_->op_timeout; }

int connection::backend_pid() const noexcept { return impl_->conn ? PQbackendPID(impl_->conn) : 0; }

void connection::close() noexcept {
  if (!impl_->busy) impl_->close();
}

}  // namespace pokeflow::core::pg
