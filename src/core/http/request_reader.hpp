#pragma once
// Reads HTTP/1.1 requests out of bytes, with no socket: the server feeds it what it reads, the
// fuzz targets and unit tests feed it buffers, so both run the very same parser. Beast stays in
// request_reader.cpp.
//
// Every byte it holds is bounded (see docs/decisions.md, "Bounded request reading"):
//   - one read buffer of max_header_bytes: the request line and header fields, one chunk-size
//     line with its extensions, and the trailer section must each fit in it, or the request is
//     refused (431 for the header, 400 for a chunk line or trailers) instead of growing;
//   - at most max_header_fields header fields (431), trailer fields counted the same way;
//   - the body, by Content-Length or chunked, up to max_body_bytes (413 as soon as a length or
//     chunk size says it will be larger); chunk extensions add up to max_header_bytes at most.
// Framing follows RFC 9112: a Transfer-Encoding whose last coding is not "chunked" (or that
// repeats it), one in an HTTP/1.0 request, or one beside a Content-Length is 400; a coding
// other than chunked before it ("gzip, chunked") is 501. A refused request always ends the
// connection: after a framing error nothing that follows can be trusted as a request.
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/message.hpp"

namespace pokeflow::core::http {

struct read_limits {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_header_fields = 64;
  std::size_t max_body_bytes = 16 * 1024;
};

struct parsed_request {
  // method, target, path, query, headers and body; route, params and remote are the server's.
  request req;
  unsigned version = 11;  // 10 or 11
  bool keep_alive = true;
};

// A request the server refuses (and then closes the connection): 400, 413, 431 or 501 with the
// detail for its JSON body. method and target are set when the request line was read.
struct read_error {
  unsigned status = 400;
  std::string detail;
  std::string method;
  std::string target;
};

class request_reader {
 public:
  explicit request_reader(read_limits limits);
  ~request_reader();
  request_reader(const request_reader&) = delete;
  request_reader& operator=(const request_reader&) = delete;

  enum class status { need_more, done, failed };

  // Free space for the next read from the peer; never empty while parse() says need_more.
  std::span<char> prepare();
  // Marks n bytes of prepare()'s span as read.
  void commit(std::size_t n);
  // Parses what is buffered. done: take() the request; failed: error() says why; need_more:
  // read more (a full buffer fails instead of asking for more).
  status parse();
  // The finished request; bytes already buffered past it (pipelining) start the next one.
  parsed_request take();
  const read_error& error() const noexcept;

  // The header is complete, the body is not, and the client sent "Expect: 100-continue".
  bool awaiting_body_after_continue() const noexcept;
  // Bytes of a next request are already buffered.
  bool buffered() const noexcept;
  // Some bytes of a request not yet taken have arrived (a close now cuts it short).
  bool in_request() const noexcept;
  // Bytes held now (buffer + parsed header + body), for tests of the bound.
  std::size_t held_bytes() const noexcept;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

// Every request in bytes, in order, until the first refusal or the end of the bytes; a request
// cut short by the end is reported as incomplete, not as an error. The fuzzers' entry point.
struct parse_outcome {
  std::vector<parsed_request> requests;
  std::optional<read_error> error;
  bool incomplete = false;
};
parse_outcome parse_requests(std::string_view bytes, const read_limits& limits = {});

}  // namespace pokeflow::core::http
