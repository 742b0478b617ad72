// libFuzzer target: the config file reader (src/core/cli.cpp), through the real entry point
// cli::parse with `--config FILE --role=api`, so every line also goes through CLI11's
// default_val and our validators (durations, ranges, role lists). The file is a memfd, so no
// disk is touched. A bad file must give exit code 2 and one line on stderr, never a crash
// or an exception out of parse().
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "core/cli.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int fd = memfd_create("pokeflow-fuzz.ini", 0);
  if (fd < 0) std::abort();
  for (std::size_t off = 0; off < size;) {
    auto n = ::write(fd, data + off, size - off);
    if (n <= 0) std::abort();
    off += static_cast<std::size_t>(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  const char* argv[] = {"pokeflow", "--config", path.c_str(), "--role=api"};

  // parse() prints its one error line (or --help/--version text) there; keep the log readable.
  std::ostringstream sink;
  auto* err = std::cerr.rdbuf(sink.rdbuf());
  auto* out = std::cout.rdbuf(sink.rdbuf());
  auto result = pokeflow::core::cli::parse(4, argv);
  std::cerr.rdbuf(err);
  std::cout.rdbuf(out);
  ::close(fd);

  if (result.cmd == pokeflow::core::cli::command::exit && result.exit_code != 0 &&
      (result.exit_code != 2 || sink.str().empty())) {
    std::fprintf(stderr, "config rejected with exit code %d and stderr '%s'\n", result.exit_code, sink.str().c_str());
    std::abort();
  }
  return 0;
}
