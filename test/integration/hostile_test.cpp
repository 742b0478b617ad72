// Hostile input against the real roles (issue 10): every case answers 4xx or closes cleanly, a
// poison message lands in the DLQ, and afterwards the process is alive, answering, and the
// stored orders are what they were. Talks only to 127.0.0.x; connection counts are bounded.
#include <catch2/catch.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"

using namespace pokeflow::test;
using namespace std::chrono_literals;

namespace {

// A TCP connection to 127.0.0.1:port from the loopback address `from` (127.0.0.0/8 is all
// local on Linux, so tests can play several clients). -1 on failure.
int dial(std::uint16_t port, const char* from = "127.0.0.1") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &src.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until the peer closes or `limit` passes. closed says which.
std::string read_until_close(int fd, std::chrono::milliseconds limit, bool* closed = nullptr) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + limit;
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (closed) *closed = false;
  return out;
}

// Sends bytes (from a thread, so a server answering early cannot deadlock us) and returns
// everything that came back until the server closed.
std::string exchange(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds limit = 10s,
                     bool* closed = nullptr) {
  int fd = dial(port);
  REQUIRE(fd >= 0);
  std::thread sender([&] { send_all(fd, bytes); });
  auto out = read_until_close(fd, limit, closed);
  ::shutdown(fd, SHUT_RDWR);
  sender.join();
  ::close(fd);
  return out;
}

int status_of(const std::string& raw) {
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return 0;
  return std::stoi(raw.substr(9, 3));
}

int count_responses(const std::string& raw) {
  int n = raw.rfind("HTTP/1.1 ", 0) == 0 ? 1 : 0;
  for (auto p = raw.find("\r\nHTTP/1.1 "); p != std::string::npos; p = raw.find("\r\nHTTP/1.1 ", p + 1)) ++n;
  // "}HTTP/1.1" follows a JSON body directly.
  for (auto p = raw.find("}HTTP/1.1 "); p != std::string::npos; p = raw.find("}HTTP/1.1 ", p + 1)) ++n;
  for (auto p = raw.find("]HTTP/1.1 "); p != std::string::npos; p = raw.find("]HTTP/1.1 ", p + 1)) ++n;
  return n;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Every stored order, folded: count and a digest of ids, states and prices.
std::string stored_orders() {
  return psql(
      "SELECT count(*) || ':' || coalesce(md5(string_agg(id::text || state::text || price::text || pokemon, ',' ORDER BY id)), '') "
      "FROM poke_orders");
}

// The process is running, its admin port says healthy, and the api answers a read.
void require_alive(pipeline& p, const std::string& role, bool api = true) {
  INFO(p.procs.at(role)->log());
  REQUIRE(p.procs.at(role)->running());
  CHECK(http(p.admin_ports.at(role), "GET", "/healthz").status == 200);
  if (api) CHECK(http(p.api_port, "GET", "/orders?limit=1").status == 200);
}

pipeline_options nothing_started() {
  pipeline_options o;
  o.api = o.fraud = o.updater = o.reverser = false;
  return o;
}

const std::string post = "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";

}  // namespace

TEST_CASE("hostile: HTTP framing, size and smuggling attacks are refused, and every role lives on", "[hostile]") {
  // One process with api, fraud and updater: the confirmed kill took all of them down at once.
  pipeline p(nothing_started());
  const std::string roles = "api,fraud,updater";
  p.start(roles, {"--api-request-timeout=2s"});
  INFO(p.procs.at(roles)->log());
  REQUIRE(p.wait_ready(roles, 60s));
  const auto before = stored_orders();

  struct attack {
    const char* name;
    std::string bytes;
    int status;
  };
  std::vector<attack> attacks = {
      {"70 000-byte trailer field (Beast threw std::length_error)",
       post + "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n0\r\nX-Trailer: " + std::string(70000, 'a') + "\r\n\r\n", 400},
      {"Transfer-Encoding: gzip with a smuggled request",
       post + "Transfer-Encoding: gzip\r\n\r\nGET /orders HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"Transfer-Encoding: chunked, identity",
       post + "Transfer-Encoding: chunked, identity\r\n\r\nGET /orders HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"Transfer-Encoding: xchunked", post + "Transfer-Encoding: xchunked\r\n\r\nGET /orders HTTP/1.1\r\n\r\n", 400},
      {"Transfer-Encoding: gzip, chunked (unsupported coding)",
       post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"Content-Length then Transfer-Encoding",
       post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /orders HTTP/1.1\r\n\r\n", 400},
      {"Transfer-Encoding then Content-Length",
       post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /orders HTTP/1.1\r\n\r\n", 400},
      {"two Content-Lengths", post + "Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400},
      {"oversized header", "GET /orders HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n", 431},
      {"too many header fields",
       [] {
         std::string s = "GET /orders HTTP/1.1\r\nHost: x\r\n";
         for (int i = 0; i < 500; ++i) s += "X-" + std::to_string(i) + ": y\r\n";
         return s + "\r\n";
       }(),
       431},
      {"huge body by Content-Length", post + "Content-Length: 1000000000\r\n\r\n" + std::string(50000, '{'), 413},
      {"huge body by chunks", post + "Transfer-Encoding: chunked\r\n\r\n40000000\r\n" + std::string(50000, '{'), 413},
      {"many chunks past the body limit",
       post + "Transfer-Encoding: chunked\r\n\r\n" + [] {
         std::string s;
         for (int i = 0; i < 20000; ++i) s += "1\r\n{\r\n";
         return s;
       }(),
       413},
      {"malformed chunk size", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400},
      {"chunk data longer than its size", post + "Transfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n", 400},
      {"NUL in a header value", std::string("GET /orders HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 41), 400},
      {"garbage request line", "\x16\x03\x01\x02\x10\x01\xfc\x03\x03 hello\r\n\r\n", 400},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
  };
  for (const auto& a : attacks) {
    INFO(a.name);
    auto raw = exchange(p.api_port, a.bytes);
    INFO(raw.substr(0, 300));
    CHECK(status_of(raw) == a.status);
    CHECK(count_responses(raw) == 1);  // never a second (smuggled) response
    CHECK(raw.find("Connection: close") != std::string::npos);
    require_alive(p, roles);
  }

  {  // a 32 MB chunk extension is cut off at the buffer, not read into memory
    INFO("a 32 MB chunk extension is cut off at the buffer, not read into memory");
    auto rss0 = rss_kib(p.procs.at(roles)->pid());
    bool closed = false;
    auto raw = exchange(p.api_port, post + "Transfer-Encoding: chunked\r\n\r\n1;" + std::string(32 << 20, 'e'), 10s,
                        &closed);
    // The 400 is written before the server closes; a reset may beat it to the client.
    CHECK((status_of(raw) == 400 || (raw.empty() && closed)));
    auto rss1 = rss_kib(p.procs.at(roles)->pid());
    INFO("RSS " << rss0 << " KiB -> " << rss1 << " KiB");
    CHECK(rss1 - rss0 < 8 * 1024);
    require_alive(p, roles);
  }

  {  // HEAD answers like GET without a body, so keep-alive stays in step
    INFO("HEAD answers like GET without a body, so keep-alive stays in step");
    auto raw = exchange(p.api_port,
                        "HEAD /orders?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                        "HEAD /orders/999999999999 HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /orders?limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    INFO(raw);
    REQUIRE(status_of(raw) == 200);
    auto second = raw.find("\r\n\r\n") + 4;
    CHECK(raw.compare(second, 12, "HTTP/1.1 404") == 0);  // no body between the responses
    auto third = raw.find("\r\n\r\n", second) + 4;
    CHECK(raw.compare(third, 12, "HTTP/1.1 200") == 0);
    CHECK(raw.find("Content-Length: ", 0) < second);
  }

  {  // 1000 pipelined requests on one connection are all answered, in order
    INFO("1000 pipelined requests on one connection are all answered, in order");
    std::string burst;
    for (int i = 0; i < 999; ++i) burst += "GET /orders?limit=1&skip=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    burst += "GET /orders?limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    bool closed = false;
    auto raw = exchange(p.api_port, burst, 30s, &closed);
    CHECK(closed);
    std::size_t ok = 0;
    for (auto q = raw.find("HTTP/1.1 200 "); q != std::string::npos; q = raw.find("HTTP/1.1 200 ", q + 1)) ++ok;
    CHECK(ok == 1000);
    require_alive(p, roles);
  }

  {  // slowloris: a trickled header or body is cut off by the request timeout (2 s)
    INFO("slowloris: a trickled header or body is cut off by the request timeout (2 s)");
    const std::string header_trickle = "X-Pad: y\r\nX-Pad: y\r\nX-Pad: y\r\nX-Pad: y\r\nX-Pad: y\r\n";
    for (const auto& [start, trickle] :
         {std::pair<std::string, std::string>{"GET /orders HTTP/1.1\r\n", header_trickle},
          std::pair<std::string, std::string>{post + "Content-Length: 1000\r\n\r\n", std::string(100, '{')}}) {
      int fd = dial(p.api_port);
      REQUIRE(fd >= 0);
      auto t0 = std::chrono::steady_clock::now();
      bool cut = false;
      send_all(fd, start);
      for (std::size_t i = 0; i < 40 && !cut; ++i) {  // one byte per 250 ms, at most 10 s
        if (!send_all(fd, trickle.substr(i, 1))) cut = true;
        bool closed = false;
        read_until_close(fd, 250ms, &closed);
        cut = cut || closed;
      }
      auto took = std::chrono::steady_clock::now() - t0;
      ::close(fd);
      CHECK(cut);
      CHECK(took < 5s);
    }
    require_alive(p, roles);
  }

  CHECK(stored_orders() == before);
  INFO(p.procs.at(roles)->log());
  CHECK(p.procs.at(roles)->running());
}

TEST_CASE("hostile: strict JSON bodies get 422 naming the field, and never fail another client's order",
          "[hostile]") {
  pipeline p(nothing_started());
  p.start("api", {"--api-max-body=1048576"});  // room for a 200 KB nesting bomb
  REQUIRE(p.wait_ready("api", 60s));
  const auto before = stored_orders();
  auto order = [](std::string pokemon_literal, std::string price = "10", std::string user = "1") {
    return "{\"user_id\":" + user + ",\"pokemon\":" + pokemon_literal + ",\"country\":\"Chile\",\"price\":" + price + "}";
  };
  struct bad {
    const char* name;
    std::string body;
    std::string field;  // the loc's second element, "" for the body as a whole
  };
  std::vector<bad> bads = {
      {"byte 0xff", order("\"zz\xff\""), "pokemon"},
      {"overlong '/'", order("\"zz\xc0\xaf\""), "pokemon"},
      {"truncated euro sign", order("\"zz\xe2\x82\""), "pokemon"},
      {"UTF-8 encoded surrogate", order("\"\xed\xb0\x80\""), "pokemon"},
      {"escaped lone surrogate", order(R"("zz\udc00")"), "pokemon"},
      {"NUL", order(R"("a\u0000b")"), "pokemon"},
      {"duplicate key", R"({"user_id":1,"pokemon":"Mew","pokemon":"Ditto","country":"Chile","price":1})", "pokemon"},
      {"NaN", order("\"Mew\"", "NaN"), "price"},
      {"1e400", order("\"Mew\"", "1e400"), "price"},
      {"2^63 user", order("\"Mew\"", "1", "9223372036854775808"), "user_id"},
      {"200 KB of [", std::string(200000, '['), ""},
      {"100 000 nested objects", [] {
         std::string s;
         for (int i = 0; i < 100000; ++i) s += "{\"a\":";
         return s;
       }(), ""},
  };
  for (const auto& b : bads) {
    INFO(b.name);
    auto r = http(p.api_port, "POST", "/orders", b.body);
    INFO(r.body);
    CHECK(r.status == 422);
    if (b.field.empty()) CHECK(r.body.find(R"("loc":["body"])") != std::string::npos);
    else CHECK(r.body.find(R"("loc":["body",")" + b.field + "\"]") != std::string::npos);
    REQUIRE(p.procs.at("api")->running());
  }
  // A duplicate state in an update is refused too (no "first wins" vs "last wins" games).
  auto dup_put = http(p.api_port, "PUT", "/orders/1", R"({"state":"success","state":"rejected"})",
                      {{"Authorization", "Bearer " + p.token}});
  CHECK(dup_put.status == 422);
  CHECK(stored_orders() == before);

  // -0 is 0.
  auto zero = http(p.api_port, "POST", "/orders", order("\"Mew\"", "-0", "-0"));
  INFO(zero.body);
  REQUIRE(zero.status == 201);
  auto zero_id = json_field(zero.body, "id").value();
  CHECK(psql("SELECT price::text || ':' || user_id FROM poke_orders WHERE id = " + zero_id) == "0:0");

  // 120 concurrent creations, 3 poisoned: only the 3 fail (they used to sink their batch).
  std::atomic<int> created{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 120; ++i) {
    clients.emplace_back([&, i] {
      bool poison = i % 40 == 7;
      auto r = http(p.api_port, "POST", "/orders", order(poison ? "\"bad\xff\"" : "\"Pikachu\"", std::to_string(i + 1)));
      (r.status == 201 ? created : r.status == 422 ? refused : other)++;
    });
  }
  for (auto& t : clients) t.join();
  CHECK(created == 117);
  CHECK(refused == 3);
  CHECK(other == 0);
  auto count = [](const std::string& s) { return std::stoll(s.substr(0, s.find(':'))); };
  CHECK(count(stored_orders()) == count(before) + 118);
  require_alive(p, "api");
}

TEST_CASE("hostile: poison Kafka messages of every shape on both topics reach the DLQ, and roles keep flowing",
          "[hostile]") {
  pipeline_options o;
  o.reverser = false;
  pipeline p(o);
  for (auto r : {"api", "fraud", "updater"}) {
    INFO(p.procs.at(r)->log());
    REQUIRE(p.wait_ready(r, 60s));
  }
  // An order that is already decided: poison updates naming it must not move it.
  auto decided = p.create_order(1, "Pikachu", 10);
  REQUIRE(eventually([&] { return p.state_of(decided) == "success"; }, 60s));
  const auto before = stored_orders();
  const std::string id = std::to_string(decided);
  auto msg = [&](std::string pokemon_literal, std::string extra = "") {
    return "{\"id\":" + id + ",\"user_id\":1,\"pokemon\":" + pokemon_literal +
           ",\"country\":\"Chile\",\"price\":10,\"state\":\"rejected\"" + extra + "}";
  };
  std::vector<std::string> poisons = {
      std::string(200000, '['),
      [] {
        std::string s;
        for (int i = 0; i < 50000; ++i) s += "{\"a\":";
        return s;
      }(),
      msg("\"zz\xff\""),
      msg("\"zz\xc0\xaf\""),
      msg("\"zz\xe2\x82\""),
      msg(R"("zz\udc00")"),
      msg(R"("a\u0000b")"),
      msg("\"Mew\"", ",\"state\":\"success\""),                    // duplicate key
      "{\"id\":" + id + ",\"id\":1,\"user_id\":1,\"pokemon\":\"Mew\",\"country\":\"Chile\",\"price\":10,\"state\":\"rejected\"}",
      msg("\"Mew\"", ",\"x\":NaN"),
      "{\"id\":" + id + ",\"user_id\":1,\"pokemon\":\"Mew\",\"country\":\"Chile\",\"price\":1e400,\"state\":\"rejected\"}",
      "{\"id\":9223372036854775808,\"user_id\":1,\"pokemon\":\"Mew\",\"country\":\"Chile\",\"price\":1,\"state\":\"rejected\"}",
      msg("\"" + std::string(900000, 'x') + "\""),                 // huge (and a name past 64 characters)
      std::string("\x00\x01\x02\xff\xfe", 5),
      "42",
      "[]",
      "null",
      "{\"id\":" + id + ",\"user_id\":1,\"pok",
  };
  auto dir = sh("mktemp -d").out;
  dir.erase(dir.find_last_not_of("\n") + 1);
  auto produce = [&](const std::string& topic) {
    for (std::size_t i = 0; i < poisons.size(); ++i) {
      auto file = dir + "/m" + std::to_string(i);
      std::ofstream(file, std::ios::binary) << poisons[i];
      auto r = sh("kcat -P -b " + bootstrap() + " -t " + topic + " -p " + std::to_string(i % 3) + " -k poison " + file +
                  " 2>&1");
      INFO(r.out);
      REQUIRE(r.status == 0);
    }
  };
  produce(p.orders_topic);
  produce(p.states_topic);
  const auto expected = 2 * poisons.size();
  std::size_t in_dlq = 0;
  bool all = eventually(
      [&] {
        auto out = sh("kcat -C -b " + bootstrap() + " -t " + p.dlq_topic + " -o beginning -e -q -f '%p:%o\\n' 2>/dev/null").out;
        in_dlq = static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n'));
        return in_dlq >= expected;
      },
      60s);
  INFO("DLQ holds " << in_dlq << " of " << expected);
  INFO(p.procs.at("fraud")->log());
  INFO(p.procs.at("updater")->log());
  CHECK(all);
  CHECK(in_dlq == expected);
  // Nothing crashed or restarted, and the pipeline still decides new orders.
  for (auto r : {"fraud", "updater"}) {
    INFO(r << ": " << p.procs.at(r)->log());
    CHECK(p.procs.at(r)->running());
    CHECK(http(p.admin_ports.at(r), "GET", "/healthz").status == 200);
  }
  CHECK(stored_orders() == before);
  auto fresh = p.create_order(2, "Snorlax", 20);
  CHECK(eventually([&] { return p.state_of(fresh) == "success"; }, 60s));
  require_alive(p, "api");
  sh("rm -rf " + dir);
}

TEST_CASE("hostile: 2000 idle connections and a greedy client, and /healthz and other clients keep answering",
          "[hostile]") {
  pipeline p(nothing_started());
  p.start("api", {"--api-max-connections=1024", "--api-max-connections-per-client=100", "--api-request-timeout=30s"});
  REQUIRE(p.wait_ready("api", 60s));
  const auto before = stored_orders();
  const auto admin = p.admin_ports.at("api");
  const auto pid = p.procs.at("api")->pid();
  auto rss0 = rss_kib(pid);

  // 2000 connections from 20 addresses, 100 each (the per-client cap): the api holds 1024
  // and turns the rest away with 503.
  std::vector<int> idle;
  for (int a = 0; a < 20; ++a) {
    auto from = "127.0.0." + std::to_string(10 + a);
    for (int i = 0; i < 100; ++i) {
      int fd = dial(p.api_port, from.c_str());
      if (fd >= 0) idle.push_back(fd);
    }
  }
  CHECK(idle.size() == 2000);
  bool full = eventually(
      [&] {
        auto m = http(admin, "GET", "/metrics").body;
        return metric(m, R"(http_connections{listener="api"})") == std::optional<double>(1024);
      },
      10s);
  CHECK(full);
  auto rss1 = rss_kib(pid);
  auto per_conn = static_cast<double>(rss1 - rss0) / 1024.0;
  WARN("api RSS " << rss0 << " KiB idle, " << rss1 << " KiB holding 1024 idle connections: " << per_conn
                  << " KiB per connection");
  CHECK(per_conn < 64);
  // The admin port keeps answering while the api port is flooded.
  for (int i = 0; i < 3; ++i) CHECK(http(admin, "GET", "/healthz").status == 200);
  auto turned_away = http(p.api_port, "GET", "/orders?limit=1");
  CHECK(turned_away.status == 503);
  CHECK(turned_away.headers.count("retry-after") == 1);
  for (int fd : idle) ::close(fd);
  idle.clear();
  CHECK(eventually([&] { return http(p.api_port, "GET", "/orders?limit=1").status == 200; }, 10s));

  // One greedy client holds its 100, its next connection is refused, another client is served.
  for (int i = 0; i < 100; ++i) {
    int fd = dial(p.api_port, "127.0.0.2");
    REQUIRE(fd >= 0);
    idle.push_back(fd);
  }
  CHECK(eventually(
      [&] {
        return metric(http(admin, "GET", "/metrics").body, R"(http_connections{listener="api"})") ==
               std::optional<double>(100);
      },
      10s));
  int extra = dial(p.api_port, "127.0.0.2");
  REQUIRE(extra >= 0);
  send_all(extra, "GET /orders?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  auto greedy = read_until_close(extra, 5s);
  ::close(extra);
  CHECK(status_of(greedy) == 503);
  CHECK(http(p.api_port, "GET", "/orders?limit=1").status == 200);
  for (int fd : idle) ::close(fd);
  CHECK(stored_orders() == before);
  require_alive(p, "api");
}
