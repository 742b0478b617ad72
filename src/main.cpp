#include <iostream>

#include "core/cli.hpp"

int main(int argc, char** argv) {
  auto p = pokeflow::core::cli::parse(argc, argv);
  if (p.cmd == pokeflow::core::cli::command::exit) return p.exit_code;
  std::cerr << "pokeflow: not wired yet\n";
  return 1;
}
