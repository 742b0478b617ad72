#pragma once
#include <stdexcept>

namespace pokeflow {

// A configuration value that cannot work (bad rules file, unusable option combination).
// main prints it on one line and exits 2, like a bad flag.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace pokeflow
