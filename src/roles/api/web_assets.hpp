#pragma once
// Files compiled into the binary (cmake/web-assets.cmake generates the table).
#include <cstddef>
#include <span>
#include <string_view>

namespace pokeflow::roles::api::web {

struct asset {
  std::string_view path;          // URL path, e.g. "/static/style.css"
  std::string_view content_type;  // without charset; text types are served as UTF-8
  std::string_view etag;          // quoted, from the file's SHA-256
  std::span<const unsigned char> data;
  std::span<const unsigned char> gzip;  // empty when not stored compressed
};

std::span<const asset> embedded_assets() noexcept;

}  // namespace pokeflow::roles::api::web
