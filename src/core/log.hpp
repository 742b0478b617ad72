#pragma once
// Structured JSON logs, one object per line on stdout:
// {"ts":"2026-11-25T12:00:00.123Z","level":"info","msg":"...","role":"api", ...fields}
// "role" is there when the line comes from a role's logger (role_context::log), so with
// --role=fraud,updater in one process each line says whose it is; process-wide lines (main,
// runtime, shared clients) use the free functions and carry no role.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "pokeflow/config.hpp"

namespace pokeflow::core::log {

struct field {
  using value_type = std::variant<std::string_view, std::int64_t, double, bool>;
  std::string_view key;
  value_type value;
  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  field(std::string_view k, int v) : key(k), value(std::int64_t(v)) {}
  field(std::string_view k, unsigned v) : key(k), value(std::int64_t(v)) {}
  field(std::string_view k, long long v) : key(k), value(std::int64_t(v)) {}
  field(std::string_view k, unsigned long v) : key(k), value(std::int64_t(v)) {}
  field(std::string_view k, double v) : key(k), value(v) {}
  field(std::string_view k, bool v) : key(k), value(v) {}
};

// Process-wide minimum level (set once by main before any role starts).
void set_level(log_level level) noexcept;
log_level level() noexcept;
bool enabled(log_level level) noexcept;

// Formats one JSON line (exposed for tests); an empty role is left out.
std::string format(log_level level, std::string_view msg, std::initializer_list<field> fields,
                   std::string_view role = {});
// Writes one line to stdout; thread-safe, never throws.
void write(log_level level, std::string_view msg, std::initializer_list<field> fields = {},
           std::string_view role = {}) noexcept;

inline void debug(std::string_view m, std::initializer_list<field> f = {}) noexcept {
  if (enabled(log_level::debug)) write(log_level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<field> f = {}) noexcept {
  if (enabled(log_level::info)) write(log_level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<field> f = {}) noexcept {
  if (enabled(log_level::warn)) write(log_level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<field> f = {}) noexcept {
  write(log_level::error, m, f);
}

// A logger for one role: the same lines as the free functions plus "role". Cheap to copy; a
// default-constructed one has no role.
class logger {
 public:
  logger() = default;
  explicit logger(std::string role) : role_(std::move(role)) {}
  const std::string& role() const noexcept { return role_; }

  void debug(std::string_view m, std::initializer_list<field> f = {}) const noexcept {
    if (enabled(log_level::debug)) write(log_level::debug, m, f, role_);
  }
  void info(std::string_view m, std::initializer_list<field> f = {}) const noexcept {
    if (enabled(log_level::info)) write(log_level::info, m, f, role_);
  }
  void warn(std::string_view m, std::initializer_list<field> f = {}) const noexcept {
    if (enabled(log_level::warn)) write(log_level::warn, m, f, role_);
  }
  void error(std::string_view m, std::initializer_list<field> f = {}) const noexcept {
    write(log_level::error, m, f, role_);
  }

 private:
  std::string role_;
};

}  // namespace pokeflow::core::log
