#pragma once
// params(a, b, c) builds a parameter vector without a braced initializer list: GCC 12
// miscompiles ("array used as initializer") an initializer_list temporary inside a
// co_await expression, which is exactly where parameters are usually written.
#include <utility>
#include <vector>

#include "core/pg/result.hpp"

namespace pokeflow::core::pg {

template <class... A>
std::vector<param> params(A&&... a) {
  std::vector<param> v;
  v.reserve(sizeof...(A));
  (v.emplace_back(std::forward<A>(a)), ...);
  return v;
}

}  // namespace pokeflow::core::pg
