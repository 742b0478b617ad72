#include "core/kafka/protocol.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <map>

namespace pokeflow::core::kafka::protocol {

namespace {

class writer {
 public:
  void i16(std::int16_t v) { be(static_cast<std::uint16_t>(v), 2); }
  void i32(std::int32_t v) { be(static_cast<std::uint32_t>(v), 4); }
  void uvarint(std::uint32_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  // Classic NULLABLE_STRING (int16 length): the request header's client_id, even in header v2.
  void nullable_string(std::string_view s) {
    i16(static_cast<std::int16_t>(s.size()));
    raw(s);
  }
  void compact_string(std::string_view s) {
    uvarint(static_cast<std::uint32_t>(s.size()) + 1);
    raw(s);
  }
  void compact_array_len(std::size_t n) { uvarint(static_cast<std::uint32_t>(n) + 1); }
  void null_compact_array() { uvarint(0); }
  void empty_tags() { uvarint(0); }

  void request_header(std::int16_t api_key, std::int32_t correlation_id, std::string_view client_id) {
    i16(api_key);
    i16(0);  // api version
    i32(correlation_id);
    nullable_string(client_id);
    empty_tags();
  }

  // Prepends the int32 size.
  std::vector<std::uint8_t> frame() const {
    std::vector<std::uint8_t> f;
    f.reserve(out_.size() + 4);
    auto n = static_cast<std::uint32_t>(out_.size());
    for (int s = 24; s >= 0; s -= 8) f.push_back(static_cast<std::uint8_t>(n >> s));
    f.insert(f.end(), out_.begin(), out_.end());
    return f;
  }

 private:
  void be(std::uint32_t v, int bytes) {
    for (int s = (bytes - 1) * 8; s >= 0; s -= 8) out_.push_back(static_cast<std::uint8_t>(v >> s));
  }
  void raw(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  std::vector<std::uint8_t> out_;
};

class reader {
 public:
  explicit reader(std::span<const std::uint8_t> b) : b_(b) {}
  std::int16_t i16() { return static_cast<std::int16_t>(be(2)); }
  std::int32_t i32() { return static_cast<std::int32_t>(be(4)); }
  std::uint32_t uvarint() {
    std::uint32_t v = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
      std::uint8_t byte = take(1)[0];
      v |= static_cast<std::uint32_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    throw decode_error("kafka response: varint too long");
  }
  // COMPACT_NULLABLE_STRING / COMPACT_STRING (null read as empty).
  std::string compact_string() {
    std::uint32_t n = uvarint();
    if (n == 0) return {};
    auto s = take(n - 1);
    return std::string(s.begin(), s.end());
  }
  // Element count of a COMPACT_ARRAY (null read as empty).
  std::size_t compact_array_len() {
    std::uint32_t n = uvarint();
    std::size_t count = n == 0 ? 0 : n - 1;
    if (count > b_.size() - pos_) throw decode_error("kafka response: array length beyond frame");
    return count;
  }
  std::vector<std::int32_t> compact_int32_array() {
    std::vector<std::int32_t> v(compact_array_len());
    for (auto& x : v) x = i32();
    return v;
  }
  void skip_tags() {
    std::uint32_t n = uvarint();
    for (std::uint32_t i = 0; i < n; ++i) {
      uvarint();  // tag
      take(uvarint());
    }
  }
  void response_header(std::int32_t& correlation_id) {  // header v1
    correlation_id = i32();
    skip_tags();
  }

 private:
  std::span<const std::uint8_t> take(std::size_t n) {
    if (n > b_.size() - pos_) throw decode_error("kafka response: truncated");
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::uint32_t be(int bytes) {
    std::uint32_t v = 0;
    for (std::uint8_t c : take(static_cast<std::size_t>(bytes))) v = (v << 8) | c;
    return v;
  }
  std::span<const std::uint8_t> b_;
  std::size_t pos_ = 0;
};

// Both responses share one layout: header v1, throttle, error code and message, then per
// topic (compact string) a compact array of partition entries, each read by
// read_partition(reader, topic, response) and followed by its tagged fields.
template <class Response, class ReadPartition>
Response decode_by_partition(std::span<const std::uint8_t> body, ReadPartition read_partition) {
  reader r(body);
  Response out;
  r.response_header(out.correlation_id);
  out.throttle_time_ms = r.i32();
  out.error_code = r.i16();
  out.error_message = r.compact_string();
  for (std::size_t t = 0, nt = r.compact_array_len(); t < nt; ++t) {
    std::string topic = r.compact_string();
    for (std::size_t p = 0, np = r.compact_array_len(); p < np; ++p) {
      read_partition(r, topic, out);
      r.skip_tags();
    }
    r.skip_tags();
  }
  r.skip_tags();
  return out;
}

}  // namespace

std::vector<std::uint8_t> encode_alter_partition_reassignments(std::int32_t correlation_id,
                                                               std::string_view client_id,
                                                               std::int32_t timeout_ms,
                                                               const std::vector<partition_reassignment>& parts) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const partition_reassignment*>> by_topic;
  for (const auto& p : parts) {
    if (!by_topic.count(p.topic)) order.push_back(p.topic);
    by_topic[p.topic].push_back(&p);
  }
  writer w;
  w.request_header(api_alter_partition_reassignments, correlation_id, client_id);
  w.i32(timeout_ms);
  w.compact_array_len(order.size());
  for (const auto& t : order) {
    w.compact_string(t);
    w.compact_array_len(by_topic[t].size());
    for (const auto* p : by_topic[t]) {
      w.i32(p->partition);
      if (p->replicas) {
        w.compact_array_len(p->replicas->size());
        for (std::int32_t r : *p->replicas) w.i32(r);
      } else {
        w.null_compact_array();
      }
      w.empty_tags();
    }
    w.empty_tags();
  }
  w.empty_tags();
  return w.frame();
}

alter_reassignments_response decode_alter_partition_reassignments(std::span<const std::uint8_t> body) {
  return decode_by_partition<alter_reassignments_response>(body, [](reader& r, const std::string& topic, auto& out) {
    partition_result pr;
    pr.topic = topic;
    pr.partition = r.i32();
    pr.error_code = r.i16();
    pr.error_message = r.compact_string();
    out.partitions.push_back(std::move(pr));
  });
}

std::vector<std::uint8_t> encode_list_partition_reassignments(
    std::int32_t correlation_id, std::string_view client_id, std::int32_t timeout_ms,
    const std::optional<std::vector<topic_partitions>>& topics) {
  writer w;
  w.request_header(api_list_partition_reassignments, correlation_id, client_id);
  w.i32(timeout_ms);
  if (!topics) {
    w.null_compact_array();
  } else {
    w.compact_array_len(topics->size());
    for (const auto& t : *topics) {
      w.compact_string(t.topic);
      w.compact_array_len(t.partitions.size());
      for (std::int32_t p : t.partitions) w.i32(p);
      w.empty_tags();
    }
  }
  w.empty_tags();
  return w.frame();
}

list_reassignments_response decode_list_partition_reassignments(std::span<const std::uint8_t> body) {
  return decode_by_partition<list_reassignments_response>(body, [](reader& r, const std::string& topic, auto& out) {
    ongoing_reassignment o;
    o.topic = topic;
    o.partition = r.i32();
    o.replicas = r.compact_int32_array();
    o.adding = r.compact_int32_array();
    o.removing = r.compact_int32_array();
    out.ongoing.push_back(std::move(o));
  });
}

boost::asio::awaitable<std::vector<std::uint8_t>> round_trip(std::string host, int port,
                                                             std::vector<std::uint8_t> frame,
                                                             std::chrono::milliseconds timeout) {
  namespace asio = boost::asio;
  using asio::ip::tcp;
  auto ex = co_await asio::this_coro::executor;
  auto resolver = std::make_shared<tcp::resolver>(ex);
  auto sock = std::make_shared<tcp::socket>(ex);
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer timer(ex);
  timer.expires_after(timeout);
  timer.async_wait([resolver, sock, timed_out](boost::system::error_code ec) {
    if (ec) return;
    *timed_out = true;
    resolver->cancel();
    boost::system::error_code ignored;
    sock->close(ignored);
  });
  std::vector<std::uint8_t> body;
  try {
    auto endpoints = co_await resolver->async_resolve(host, std::to_string(port), asio::use_awaitable);
    co_await asio::async_connect(*sock, endpoints, asio::use_awaitable);
    co_await asio::async_write(*sock, asio::buffer(frame), asio::use_awaitable);
    std::uint8_t size_buf[4];
    co_await asio::async_read(*sock, asio::buffer(size_buf), asio::use_awaitable);
    std::uint32_t size = (std::uint32_t(size_buf[0]) << 24) | (std::uint32_t(size_buf[1]) << 16) |
                         (std::uint32_t(size_buf[2]) << 8) | std::uint32_t(size_buf[3]);
    if (size > 64u * 1024 * 1024) throw decode_error("kafka response: frame of " + std::to_string(size) + " bytes");
    body.resize(size);
    co_await asio::async_read(*sock, asio::buffer(body), asio::use_awaitable);
  } catch (const boost::system::system_error&) {
    timer.cancel();
    if (*timed_out) throw boost::system::system_error(asio::error::timed_out);
    throw;
  }
  timer.cancel();
  co_return body;
}

}  // namespace pokeflow::core::kafka::protocol
