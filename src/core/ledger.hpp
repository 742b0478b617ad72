#pragma once
// The ledger: one CSV line per order the api acknowledged (201), written by loadgen and read
// by `pokeflow verify`. Header:
//   order_id,user_id,pokemon,country,price,intended_us,sent_us,acked_us
// Times are microseconds since the Unix epoch. Fields are quoted RFC 4180 style when they
// contain a comma, quote or line break. A line counts only once its '\n' is written, so a
// loadgen killed mid-write leaves a ledger whose complete lines are all valid.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pokeflow::core::ledger {

inline constexpr std::string_view ledger_header =
    "order_id,user_id,pokemon,country,price,intended_us,sent_us,acked_us";

struct ledger_row {
  std::int64_t order_id = 0;
  std::int64_t user_id = 0;
  std::string pokemon;
  std::string country;
  double price = 0;
  std::int64_t intended_us = 0;
  std::int64_t sent_us = 0;
  std::int64_t acked_us = 0;
  bool operator==(const ledger_row&) const = default;
};

// One line without the trailing newline. Prices keep 2 decimals (what loadgen sends).
std::string format_ledger_row(const ledger_row& r);
// Parses one line (no newline). nullopt when a field is missing, extra or not a number.
std::optional<ledger_row> parse_ledger_line(std::string_view line);

struct ledger_contents {
  std::vector<ledger_row> rows;
  bool truncated_tail = false;  // the last line had no newline (writer killed) and was dropped
};
// Parses a whole ledger. Throws std::runtime_error naming the line on a wrong header or a
// malformed complete line; an unterminated last line is dropped, not an error.
ledger_contents parse_ledger(std::string_view text);
// Reads and parses a file. Throws std::runtime_error naming the file.
ledger_contents read_ledger(const std::string& path);

// Appends rows to a file through a buffer; flush() hands whole lines to the kernel, so they
// survive the process being killed. Not thread-safe.
class ledger_writer {
 public:
  // Creates or truncates path and writes the header. Throws std::runtime_error naming it.
  explicit ledger_writer(const std::string& path);
  ~ledger_writer();
  ledger_writer(const ledger_writer&) = delete;
  ledger_writer& operator=(const ledger_writer&) = delete;

  void append(const ledger_row& r);
  // Writes buffered lines. Throws std::runtime_error on a write error (disk full).
  void flush();
  std::uint64_t rows() const noexcept { return rows_; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  std::uint64_t rows_ = 0;
};

}  // namespace pokeflow::core::ledger
