// The request reader (src/core/http/request_reader.hpp): the bytes-to-request path the server
// runs, probed without sockets.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "core/http/request_reader.hpp"

using namespace pokeflow::core::http;

namespace {
read_error refused(const std::string& bytes, read_limits l = {}) {
  auto o = parse_requests(bytes, l);
  INFO(bytes.substr(0, 200));
  REQUIRE(o.error.has_value());
  return *o.error;
}
const std::string post = "POST /orders HTTP/1.1\r\nHost: x\r\n";
}  // namespace

TEST_CASE("reader: requests, pipelined, with bodies by length and by chunks", "[http]") {
  auto o = parse_requests("GET /a?x=1&y=%20 HTTP/1.1\r\nHost: x\r\n\r\n" + post +
                          "Content-Length: 3\r\n\r\nabc" + post +
                          "Transfer-Encoding: chunked\r\n\r\n2;ext=1\r\nab\r\n1\r\nc\r\n0\r\nX-T: 1\r\n\r\n"
                          "HEAD / HTTP/1.0\r\n\r\n");
  REQUIRE_FALSE(o.error);
  REQUIRE(o.requests.size() == 4);
  CHECK(o.requests[0].req.path == "/a");
  CHECK(o.requests[0].req.query.at("y") == " ");
  CHECK(o.requests[0].req.header("host") == std::optional<std::string_view>("x"));
  CHECK(o.requests[1].req.body == "abc");
  CHECK(o.requests[2].req.body == "abc");
  CHECK(o.requests[3].req.method == "HEAD");
  CHECK(o.requests[3].version == 10);
  CHECK_FALSE(o.requests[3].keep_alive);
  CHECK_FALSE(o.incomplete);
  CHECK(parse_requests(post + "Content-Length: 10\r\n\r\nabc").incomplete);
}

TEST_CASE("reader: a 70 000-byte trailer and a 1 MB chunk extension are refused, not buffered", "[http]") {
  // The confirmed kill: Beast threw std::length_error out of the read for this trailer.
  auto t = refused(post + "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n0\r\nX-Trailer: " + std::string(70000, 'a') +
                   "\r\n\r\n");
  CHECK(t.status == 400);
  CHECK(refused(post + "Transfer-Encoding: chunked\r\n\r\n1;" + std::string(1 << 20, 'a') + "\r\n{\r\n0\r\n\r\n")
            .status == 400);
  std::string many;
  for (int i = 0; i < 3000; ++i) many += "1;e=xxxxxxxxxx\r\na\r\n";
  CHECK(refused(post + "Transfer-Encoding: chunked\r\n\r\n" + many + "0\r\n\r\n").detail.find("extensions") !=
        std::string::npos);
  // What the reader holds stays within its buffer, the header and the body limit.
  request_reader r({});
  std::string bytes = post + "Transfer-Encoding: chunked\r\n\r\n4000\r\n" + std::string(0x4000, 'b') + "\r\n";
  std::size_t fed = 0;
  while (fed < bytes.size()) {
    auto space = r.prepare();
    auto n = std::min(space.size(), bytes.size() - fed);
    std::copy_n(bytes.data() + fed, n, space.data());
    r.commit(n);
    fed += n;
    CHECK(r.parse() == request_reader::status::need_more);
    // The read buffer, the header, and the body (a growing std::string may reserve up to twice it).
    CHECK(r.held_bytes() <= 8192 + 2 * 16384 + 1024);
  }
}

TEST_CASE("reader: RFC 9112 framing, no smuggling", "[http]") {
  for (auto te : {"gzip", "chunked, identity", "xchunked", "chunked, chunked", ""}) {
    INFO(te);
    auto e = refused(post + "Transfer-Encoding: " + te + "\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n");
    CHECK(e.status == 400);
  }
  CHECK(refused(post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").status == 501);
  CHECK(refused(post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").status == 400);
  CHECK(refused(post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n").status == 400);
  CHECK(refused(post + "Transfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc").status == 400);
  CHECK(refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").status == 400);
  CHECK(refused(post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd").status == 400);
  CHECK(refused(post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n").status == 400);
  CHECK(refused(post + "Transfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n").status == 400);
  CHECK(refused(std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26)).status == 400);
  CHECK(refused("GET http://x/ HTTP/1.1\r\n\r\n").status == 400);
  CHECK(refused("GET /?a=%zz HTTP/1.1\r\n\r\n").status == 400);
}

TEST_CASE("reader: header and body limits answer 431 and 413", "[http]") {
  CHECK(refused("GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n").status == 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 65; ++i) many += "X" + std::to_string(i) + ": 1\r\n";
  CHECK(refused(many + "\r\n").status == 431);
  auto cl = refused(post + "Content-Length: 100000000\r\n\r\nabc");
  CHECK(cl.status == 413);
  CHECK(cl.method == "POST");
  CHECK(cl.target == "/orders");
  CHECK(refused(post + "Transfer-Encoding: chunked\r\n\r\n4001\r\n").status == 413);
  CHECK(refused(post + "Transfer-Encoding: chunked\r\n\r\n4000\r\n" + std::string(0x4000, 'a') + "\r\n1\r\n").status ==
        413);
}
