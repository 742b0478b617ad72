#include "core/process_metrics.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

namespace pokeflow::core {
namespace {
double rss_bytes() {
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  in >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double cpu_seconds() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}
}  // namespace

void register_process_metrics(metrics::registry& r) {
  r.add_callback_gauge("process_resident_memory_bytes", "Resident memory size in bytes", rss_bytes);
  r.add_callback_counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
                         cpu_seconds);
  double start = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  r.add_callback_gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds",
                       [start] { return start; });
}

}  // namespace pokeflow::core
