#pragma once
// The OpenAPI 3.1 document of the api role (/openapi.json), built from pokeflow/limits.hpp so
// it states exactly what the validator enforces.
#include <cstddef>
#include <string>

namespace pokeflow::roles::api::web {

struct openapi_options {
  std::size_t max_body_bytes = 16 * 1024;
};

std::string openapi_document(const openapi_options& opts);

}  // namespace pokeflow::roles::api::web
