#include "core/http/request_reader.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "core/http/router.hpp"

namespace pokeflow::core::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Beast's request_parser stores fields in basic_fields, which throws std::length_error on a
// value over 64 KiB (a trailer is not held to header_limit): that exception escaped the read
// and ended the process. This parser keeps what it needs in our own types and reports every
// problem as a read_error, never by throwing.
class wire_parser final : public bhttp::basic_parser<true> {
 public:
  wire_parser(const read_limits& limits, parsed_request& out) : limits_(limits), out_(out) {
    header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
    body_limit(limits.max_body_bytes);
    eager(true);
  }

  std::optional<read_error> verdict;  // a refusal decided by a callback (its ec stops the parse)
  bool expect_continue = false;

 private:
  const read_limits& limits_;
  parsed_request& out_;
  std::size_t fields_ = 0;
  std::size_t trailer_fields_ = 0;
  std::size_t extension_bytes_ = 0;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  std::string transfer_encoding_;

  void refuse(error_code& ec, unsigned status, std::string detail) {
    verdict = read_error{status, std::move(detail), {}, {}};
    ec = bhttp::error::bad_value;  // any error: it only stops the parse
  }

  void on_request_impl(bhttp::verb, beast::string_view method, beast::string_view target, int version,
                       error_code&) override {
    out_.req.method.assign(method.data(), method.size());
    out_.req.target.assign(target.data(), target.size());
    out_.version = version == 10 ? 10 : 11;
  }

  void on_response_impl(int, beast::string_view, int, error_code& ec) override { ec = bhttp::error::bad_version; }

  void on_field_impl(bhttp::field f, beast::string_view name, beast::string_view value, error_code& ec) override {
    if (is_header_done()) {  // a trailer field: bounded, counted, not kept
      if (++trailer_fields_ > limits_.max_header_fields)
        refuse(ec, 431, "Request trailer has more than " + std::to_string(limits_.max_header_fields) + " fields");
      return;
    }
    if (++fields_ > limits_.max_header_fields) {
      refuse(ec, 431, "Request header has more than " + std::to_string(limits_.max_header_fields) + " fields");
      return;
    }
    std::string_view v(value.data(), value.size());
    if (f == bhttp::field::transfer_encoding) {
      has_transfer_encoding_ = true;
      if (!transfer_encoding_.empty()) transfer_encoding_ += ',';
      transfer_encoding_.append(v);
    } else if (f == bhttp::field::content_length) {
      has_content_length_ = true;
    } else if (f == bhttp::field::expect) {
      if (beast::iequals(trim_ows(v), "100-continue")) expect_continue = true;
    }
    auto [it, inserted] = out_.req.headers.emplace(std::string(name.data(), name.size()), std::string(v));
    if (!inserted) it->second.append(", ").append(v);
  }

  // RFC 9112 6.1 and 6.3: the framing must be unambiguous, or the request is refused.
  void on_header_impl(error_code& ec) override {
    if (!has_transfer_encoding_) return;
    if (out_.version == 10) return refuse(ec, 400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
    if (has_content_length_) return refuse(ec, 400, "Request has both Content-Length and Transfer-Encoding");
    std::vector<std::string_view> codings;
    std::string_view rest = transfer_encoding_;
    while (true) {
      auto comma = rest.find(',');
      auto tok = trim_ows(rest.substr(0, comma));
      if (!tok.empty()) codings.push_back(tok);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (codings.empty() || !beast::iequals(codings.back(), "chunked"))
      return refuse(ec, 400, "Transfer-Encoding must end with chunked");
    for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
      if (beast::iequals(codings[i], "chunked")) return refuse(ec, 400, "Transfer-Encoding applies chunked twice");
    }
    if (codings.size() > 1) return refuse(ec, 501, "Only the chunked transfer coding is supported");
  }

  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    // basic_parser has already refused a length over body_limit.
    if (length) out_.req.body.reserve(static_cast<std::size_t>(*length));
  }

  std::size_t on_body_impl(beast::string_view body, error_code&) override {
    out_.req.body.append(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, beast::string_view extensions, error_code& ec) override {
    extension_bytes_ += extensions.size();
    if (extension_bytes_ > limits_.max_header_bytes)
      refuse(ec, 400, "Chunk extensions exceed " + std::to_string(limits_.max_header_bytes) + " bytes");
  }

  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
    out_.req.body.append(body.data(), body.size());
    return body.size();
  }

  void on_finish_impl(error_code&) override {}
};

}  // namespace

struct request_reader::impl {
  explicit impl(read_limits l) : limits(l), cap(std::max<std::size_t>(l.max_header_bytes, 256)) {}

  read_limits limits;
  std::size_t cap;
  std::vector<char> buf;  // allocated on first use, cap bytes
  std::size_t begin = 0, end = 0;
  parsed_request current;
  std::optional<wire_parser> parser;
  read_error err;
  bool failed = false;

  void start() {
    current = parsed_request{};
    parser.emplace(limits, current);
  }

  void fail(unsigned status, std::string detail) {
    err = read_error{status, std::move(detail), current.req.method, current.req.target};
    failed = true;
  }

  void fail_with(const error_code& ec) {
    if (parser->verdict) {
      auto v = std::move(*parser->verdict);
      return fail(v.status, std::move(v.detail));
    }
    if (ec == bhttp::error::body_limit)
      return fail(413, "Request body exceeds " + std::to_string(limits.max_body_bytes) + " bytes");
    if (ec == bhttp::error::header_limit)
      return fail(431, "Request header exceeds " + std::to_string(limits.max_header_bytes) + " bytes");
    fail(400, "Malformed HTTP request: " + ec.message());
  }

  // Checks that only a complete, framed request gets here: the target and its query.
  void finish() {
    auto& r = current.req;
    if (r.target.empty() || r.target.front() != '/') return fail(400, "Request target must be an absolute path");
    auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string::npos) {
      auto query = parse_query(std::string_view(r.target).substr(q + 1));
      if (!query) return fail(400, "Malformed query string");
      r.query = std::move(*query);
    }
    current.keep_alive = parser->keep_alive();
  }

  status parse() {
    if (failed) return status::failed;
    if (!parser) start();
    while (true) {
      if (parser->is_done()) {
        finish();
        return failed ? status::failed : status::done;
      }
      error_code ec;
      std::size_t n = parser->put(boost::asio::const_buffer(buf.data() + begin, end - begin), ec);
      begin += n;
      if (begin == end) begin = end = 0;
      if (ec == bhttp::error::need_more || (!ec && n == 0 && !parser->is_done())) {
        if (end - begin >= cap) {
          // A header that does not fit was refused by header_limit; this is a chunk line or
          // the trailer section, which basic_parser would otherwise buffer without limit.
          if (!parser->is_header_done()) fail(431, "Request header exceeds " + std::to_string(limits.max_header_bytes) + " bytes");
          else fail(400, "A chunk line or the trailer section exceeds " + std::to_string(cap) + " bytes");
          return status::failed;
        }
        return status::need_more;
      }
      if (ec) {
        fail_with(ec);
        return status::failed;
      }
    }
  }
};

request_reader::request_reader(read_limits limits) : impl_(std::make_unique<impl>(limits)) {}
request_reader::~request_reader() = default;

std::span<char> request_reader::prepare() {
  auto& s = *impl_;
  if (s.buf.size() != s.cap) s.buf.resize(s.cap);
  if (s.begin > 0) {
    std::memmove(s.buf.data(), s.buf.data() + s.begin, s.end - s.begin);
    s.end -= s.begin;
    s.begin = 0;
  }
  return {s.buf.data() + s.end, s.cap - s.end};
}

void request_reader::commit(std::size_t n) {
  auto& s = *impl_;
  if (n > s.buf.size() - s.end) throw std::logic_error("request_reader::commit past prepare()");
  s.end += n;
}

request_reader::status request_reader::parse() { return impl_->parse(); }

parsed_request request_reader::take() {
  auto& s = *impl_;
  if (!s.parser || !s.parser->is_done() || s.failed) throw std::logic_error("request_reader::take without a request");
  auto out = std::move(s.current);
  s.parser.reset();
  if (s.begin == s.end) {
    // Nothing pipelined: let an idle keep-alive connection hold no buffer.
    s.buf.clear();
    s.buf.shrink_to_fit();
    s.begin = s.end = 0;
  }
  return out;
}

const read_error& request_reader::error() const noexcept { return impl_->err; }

bool request_reader::awaiting_body_after_continue() const noexcept {
  const auto& p = impl_->parser;
  return p && p->expect_continue && p->is_header_done() && !p->is_done();
}

bool request_reader::buffered() const noexcept { return impl_->end > impl_->begin; }

bool request_reader::in_request() const noexcept {
  return buffered() || (impl_->parser && impl_->parser->got_some());
}

std::size_t request_reader::held_bytes() const noexcept {
  const auto& s = *impl_;
  std::size_t n = s.buf.capacity() + s.current.req.body.capacity() + s.current.req.target.capacity();
  for (const auto& [k, v] : s.current.req.headers) n += k.capacity() + v.capacity();
  return n;
}

parse_outcome parse_requests(std::string_view bytes, const read_limits& limits) {
  parse_outcome out;
  request_reader r(limits);
  while (true) {
    auto st = r.parse();
    if (st == request_reader::status::done) {
      out.requests.push_back(r.take());
      continue;
    }
    if (st == request_reader::status::failed) {
      out.error = r.error();
      return out;
    }
    if (bytes.empty()) {
      out.incomplete = r.in_request();
      return out;
    }
    auto space = r.prepare();
    auto n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    r.commit(n);
    bytes.remove_prefix(n);
  }
}

}  // namespace pokeflow::core::http
