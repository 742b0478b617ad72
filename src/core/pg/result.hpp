#pragma once
// The outcome of one PostgreSQL statement: rows or an error with its SQLSTATE.
// Expected failures (constraint violation, lost connection, timeout) are values, never
// exceptions; misuse (unknown column, row out of range, unparsable number) throws.
#include <charconv>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct pg_result;  // libpq's PGresult; libpq-fe.h stays inside src/core/pg/*.cpp

namespace pokeflow::core::pg {

enum class error_kind {
  none,         // success
  connection,   // could not connect, or the connection broke (SQLSTATE 08xxx, socket errors)
  shutdown,     // server shutting down or backend terminated by an admin (57P01/02/03)
  timeout,      // connect / pool acquire timed out, or statement cancelled (57014)
  conflict,     // serialization failure or deadlock (40001, 40P01): rerun the transaction
  resources,    // too many connections, out of memory or disk (53xxx)
  constraint,   // integrity violation (23xxx): the data is wrong, retrying won't help
  invalid,      // bad SQL, bad value, missing object (42xxx, 22xxx, ...)
  other,        // any other server error
};

const char* to_string(error_kind k) noexcept;
// Maps a five-character SQLSTATE to a kind. An empty SQLSTATE means libpq itself
// failed (usually the connection), so it maps to `connection`.
error_kind classify(std::string_view sqlstate) noexcept;
// The one place that decides whether running the same work again can succeed.
bool is_retryable(error_kind k) noexcept;

class result {
 public:
  // A success without rows (e.g. a command that returned nothing yet).
  result() = default;
  // A failure made on the client side (no PGresult): connect failed, pool timeout, ...
  static result failure(error_kind kind, std::string message, std::string sqlstate = {});
  // Takes ownership of a PGresult; `conn_message` is used when it carries no message.
  static result from_pg(pg_result* r, std::string_view conn_message);

  bool ok() const noexcept { return kind_ == error_kind::none; }
  explicit operator bool() const noexcept { return ok(); }
  error_kind kind() const noexcept { return kind_; }
  bool retryable() const noexcept { return is_retryable(kind_); }
  const std::string& sqlstate() const noexcept { return sqlstate_; }  // empty if none
  const std::string& message() const noexcept { return message_; }     // one line, empty if ok

  int rows() const noexcept;
  int columns() const noexcept;
  // Column index by name (SQL identifier rules: unquoted names fold to lower case), -1 if absent.
  int column(std::string_view name) const;
  std::string column_name(int col) const;

  // Text value of a cell ("" for NULL). Throws std::out_of_range on a bad row/column.
  std::string_view get(int row, int col) const;
  std::string_view get(int row, std::string_view col) const;
  bool is_null(int row, int col) const;
  bool is_null(int row, std::string_view col) const;
  // nullopt for NULL.
  std::optional<std::string> value(int row, std::string_view col) const;
  // Parsed values; throw std::out_of_range on a bad cell and std::invalid_argument when
  // the cell is NULL or not a number.
  std::int64_t get_int(int row, std::string_view col) const;
  double get_double(int row, std::string_view col) const;

  // Rows changed by INSERT/UPDATE/DELETE (or returned by SELECT); 0 when not applicable.
  std::int64_t affected() const noexcept;

 private:
  int checked_column(std::string_view name) const;
  void check_cell(int row, int col) const;

  error_kind kind_ = error_kind::none;
  std::string sqlstate_;
  std::string message_;
  std::shared_ptr<pg_result> res_;  // shared so results copy cheaply; PQclear'ed once
};

// A statement parameter in text format; nullopt is SQL NULL.
class param {
 public:
  param(std::nullopt_t) noexcept {}
  param(std::string v) : v_(std::move(v)) {}
  param(std::string_view v) : v_(std::string(v)) {}
  param(const char* v) : v_(std::string(v)) {}
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  param(T v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    v_.emplace(buf, r.ptr);
  }
  param(double v);  // shortest round-trip text
  param(bool v) : v_(v ? "true" : "false") {}
  param(std::optional<std::string> v) noexcept : v_(std::move(v)) {}
  const std::optional<std::string>& text() const noexcept { return v_; }

 private:
  std::optional<std::string> v_;
};

}  // namespace pokeflow::core::pg
