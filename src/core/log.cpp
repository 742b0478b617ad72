#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "core/text.hpp"

namespace pokeflow::core::log {
namespace {
std::atomic<int> g_level{static_cast<int>(log_level::info)};
std::mutex g_out_mutex;

void append_escaped(std::string& out, std::string_view s) {
  out.push_back('"');
  text::append_json_escaped(out, s);
  out.push_back('"');
}

void append_timestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  out += buf;
}
}  // namespace

void set_level(log_level level) noexcept { g_level.store(static_cast<int>(level)); }
log_level level() noexcept { return static_cast<log_level>(g_level.load()); }
bool enabled(log_level l) noexcept { return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

std::string format(log_level lvl, std::string_view msg, std::initializer_list<field> fields, std::string_view role) {
  std::string out;
  out.reserve(128);
  out += "{\"ts\":";
  append_timestamp(out);
  out += ",\"level\":\"";
  out += to_string(lvl);
  out += "\",\"msg\":";
  append_escaped(out, msg);
  if (!role.empty()) {
    out += ",\"role\":";
    append_escaped(out, role);
  }
  for (const auto& f : fields) {
    out.push_back(',');
    append_escaped(out, f.key);
    out.push_back(':');
    if (auto s = std::get_if<std::string_view>(&f.value)) {
      append_escaped(out, *s);
    } else if (auto i = std::get_if<std::int64_t>(&f.value)) {
      out += std::to_string(*i);
    } else if (auto d = std::get_if<double>(&f.value)) {
      if (std::isfinite(*d)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", *d);
        out += buf;
      } else {
        out += "null";
      }
    } else if (auto b = std::get_if<bool>(&f.value)) {
      out += *b ? "true" : "false";
    }
  }
  out += "}\n";
  return out;
}

void write(log_level lvl, std::string_view msg, std::initializer_list<field> fields, std::string_view role) noexcept {
  try {
    auto line = format(lvl, msg, fields, role);
    std::lock_guard lock(g_out_mutex);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  } catch (...) {
    // Logging must never take the process down.
  }
}

}  // namespace pokeflow::core::log
