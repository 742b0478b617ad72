#pragma once
// Helpers shared by the src/core/pg implementation files only.
#include <string>
#include <string_view>

namespace pokeflow::core::pg::detail {

// Collapses libpq's multi-line messages ("...failed: Connection refused\n\tIs the server...")
// into one line for logs and /readyz.
std::string one_line(std::string_view text);

}  // namespace pokeflow::core::pg::detail
