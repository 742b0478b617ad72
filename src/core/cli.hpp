#pragma once
// Command-line, environment and config-file parsing (the only file that includes CLI11).
// Precedence: flag > environment POKEFLOW_<NAME> > --config file > built-in default.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pokeflow/config.hpp"

namespace pokeflow::core::cli {

struct topics_args {
  std::string verb;             // init | grow | fix | describe | delete
  std::string profile = "seed"; // init: seed | safe
  int partitions = 0;           // init (0: the default 3) and grow (required)
  bool groups = false;          // describe: also consumer group lag
};

enum class command { roles, migrate, topics, verify, exit };

struct parsed {
  command cmd = command::exit;
  int exit_code = 0;  // for command::exit
  app_config config;
  topics_args topics;
  verify_config verify;
};

// Parses argv (and the environment). Never throws: --help/--version give command::exit
// with code 0 after printing; any error prints one line on stderr and gives exit code 2.
parsed parse(int argc, const char* const* argv);

// "250ms", "2s", "1.5s", "30m", "1h"; a bare number is seconds. Throws std::invalid_argument.
std::chrono::milliseconds parse_duration(std::string_view text);

}  // namespace pokeflow::core::cli
