#include "core/pg/result.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <stdexcept>

#include "core/pg/detail.hpp"

namespace pokeflow::core::pg {

const char* to_string(error_kind k) noexcept {
  switch (k) {
    case error_kind::none: return "none";
    case error_kind::connection: return "connection";
    case error_kind::shutdown: return "shutdown";
    case error_kind::timeout: return "timeout";
    case error_kind::conflict: return "conflict";
    case error_kind::resources: return "resources";
    case error_kind::constraint: return "constraint";
    case error_kind::invalid: return "invalid";
    case error_kind::other: return "other";
  }
  return "unknown";
}

error_kind classify(std::string_view s) noexcept {
  if (s.empty()) return error_kind::connection;
  if (s == "00000") return error_kind::none;
  // Administrator or idle-timeout termination: the server is going away, another
  // connection (after a restart or failover) can succeed.
  if (s == "57P01" || s == "57P02" || s == "57P03" || s == "57P05") return error_kind::shutdown;
  // A write reaching a standby means a failover happened under us; a new connection
  // finds the new primary.
  if (s == "25006") return error_kind::shutdown;
  if (s == "57014") return error_kind::timeout;
  if (s == "40001" || s == "40P01") return error_kind::conflict;
  if (s == "40002") return error_kind::constraint;
  std::string_view cls = s.substr(0, 2);
  if (cls == "08") return error_kind::connection;
  if (cls == "53") return error_kind::resources;
  if (cls == "23") return error_kind::constraint;
  if (cls == "42" || cls == "22" || cls == "0A" || cls == "21" || cls == "25" || cls == "26" ||
      cls == "28" || cls == "2B" || cls == "34" || cls == "3B" || cls == "3D" || cls == "3F")
    return error_kind::invalid;
  // 40003 (statement completion unknown) deliberately lands here: the commit may have
  // happened, so blindly rerunning could apply the work twice.
  return error_kind::other;
}

bool is_retryable(error_kind k) noexcept {
  switch (k) {
    case error_kind::connection:
    case error_kind::shutdown:
    case error_kind::timeout:
    case error_kind::conflict:
    case error_kind::resources:
      return true;
    case error_kind::none:
    case error_kind::constraint:
    case error_kind::invalid:
    case error_kind::other:
      return false;
  }
  return false;
}

std::string detail::one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

result result::failure(error_kind kind, std::string message, std::string sqlstate) {
  result r;
  // A failure must never read as success, whatever the caller passed.
  r.kind_ = kind == error_kind::none ? error_kind::other : kind;
  r.message_ = detail::one_line(message);
  r.sqlstate_ = std::move(sqlstate);
  return r;
}

result result::from_pg(pg_result* raw, std::string_view conn_message) {
  if (!raw) return failure(error_kind::connection, std::string(conn_message));
  result r;
  r.res_.reset(raw, [](pg_result* p) { PQclear(p); });
  switch (PQresultStatus(raw)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
    case PGRES_EMPTY_QUERY:
      return r;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
      r.kind_ = error_kind::invalid;
      r.message_ = "COPY is not supported by this client";
      return r;
    case PGRES_PIPELINE_SYNC:
    case PGRES_PIPELINE_ABORTED:
      r.kind_ = error_kind::other;
      r.message_ = "not executed: an earlier statement in the pipeline failed";
      return r;
    case PGRES_BAD_RESPONSE:
    case PGRES_NONFATAL_ERROR:
    case PGRES_FATAL_ERROR:
      break;
  }
  const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  r.sqlstate_ = state ? state : "";
  r.kind_ = classify(r.sqlstate_);
  if (r.kind_ == error_kind::none) r.kind_ = error_kind::other;
  const char* primary = PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
  if (primary) {
    r.message_ = primary;
    if (const char* d = PQresultErrorField(raw, PG_DIAG_MESSAGE_DETAIL)) {
      r.message_ += " (";
      r.message_ += d;
      r.message_ += ")";
    }
  } else {
    const char* m = PQresultErrorMessage(raw);
    r.message_ = (m && *m) ? m : std::string(conn_message);
  }
  r.message_ = detail::one_line(r.message_);
  if (r.message_.empty()) r.message_ = "unknown PostgreSQL error";
  return r;
}

int result::rows() const noexcept { return res_ ? PQntuples(res_.get()) : 0; }
int result::columns() const noexcept { return res_ ? PQnfields(res_.get()) : 0; }

int result::column(std::string_view name) const {
  if (!res_) return -1;
  return PQfnumber(res_.get(), std::string(name).c_str());
}

std::string result::column_name(int col) const {
  if (col < 0 || col >= columns()) throw std::out_of_range("pg result: no column " + std::to_string(col));
  return PQfname(res_.get(), col);
}

int result::checked_column(std::string_view name) const {
  int c = column(name);
  if (c < 0) throw std::out_of_range("pg result: no column named '" + std::string(name) + "'");
  return c;
}

void result::check_cell(int row, int col) const {
  if (row < 0 || row >= rows())
    throw std::out_of_range("pg result: row " + std::to_string(row) + " of " + std::to_string(rows()));
  if (col < 0 || col >= columns())
    throw std::out_of_range("pg result: column " + std::to_string(col) + " of " + std::to_string(columns()));
}

std::string_view result::get(int row, int col) const {
  check_cell(row, col);
  return {PQgetvalue(res_.get(), row, col), static_cast<std::size_t>(PQgetlength(res_.get(), row, col))};
}

std::string_view result::get(int row, std::string_view col) const { return get(row, checked_column(col)); }

bool result::is_null(int row, int col) const {
  check_cell(row, col);
  return PQgetisnull(res_.get(), row, col) != 0;
}

bool result::is_null(int row, std::string_view col) const { return is_null(row, checked_column(col)); }

std::optional<std::string> result::value(int row, std::string_view col) const {
  int c = checked_column(col);
  if (is_null(row, c)) return std::nullopt;
  return std::string(get(row, c));
}

std::int64_t result::get_int(int row, std::string_view col) const {
  int c = checked_column(col);
  if (is_null(row, c)) throw std::invalid_argument("pg result: column '" + std::string(col) + "' is NULL");
  auto v = get(row, c);
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size())
    throw std::invalid_argument("pg result: column '" + std::string(col) + "' is not an integer: " +
                                std::string(v));
  return out;
}

double result::get_double(int row, std::string_view col) const {
  int c = checked_column(col);
  if (is_null(row, c)) throw std::invalid_argument("pg result: column '" + std::string(col) + "' is NULL");
  auto v = get(row, c);
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size())
    throw std::invalid_argument("pg result: column '" + std::string(col) + "' is not a number: " +
                                std::string(v));
  return out;
}

std::int64_t result::affected() const noexcept {
  if (!res_) return 0;
  const char* t = PQcmdTuples(res_.get());
  std::int64_t n = 0;
  if (t && *t) std::from_chars(t, t + std::char_traits<char>::length(t), n);
  return n;
}

param::param(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  v_.emplace(buf, r.ptr);
}

}  // namespace pokeflow::core::pg
