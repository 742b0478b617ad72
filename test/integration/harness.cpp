#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace pokeflow::test {

// POKEFLOW_TEST_BINARY runs the suite against another build (e.g. to see a test fail on the
// code before a fix).
std::string pokeflow_binary() {
  const char* other = std::getenv("POKEFLOW_TEST_BINARY");
  return other && *other ? other : POKEFLOW_BINARY;
}
std::string source_dir() { return POKEFLOW_SOURCE_DIR; }

shell_result sh(const std::string& cmd) {
  shell_result r;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) throw std::runtime_error("popen failed: " + cmd);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

namespace {
std::string temp_file(const std::string& content) {
  char path[] = "/tmp/pokeflow-it-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  std::ofstream(path) << content;
  return path;
}
}  // namespace

std::string psql(const std::string& sql) {
  auto file = temp_file(sql);
  auto r = sh("PGPASSWORD=poke_password PGCONNECT_TIMEOUT=5 psql -X -q -h 127.0.0.1 -p 55432 -U poke_user "
              "-d poke_orders -tA -v ON_ERROR_STOP=1 -f " + file + " 2>&1");
  std::remove(file.c_str());
  if (r.status != 0) throw std::runtime_error("psql failed (" + std::to_string(r.status) + "): " + r.out + "\nSQL: " + sql);
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) r.out.pop_back();
  return r.out;
}

std::int64_t psql_int(const std::string& sql) {
  auto out = psql(sql);
  try {
    return std::stoll(out);
  } catch (const std::exception&) {
    throw std::runtime_error("expected a number from SQL, got '" + out + "': " + sql);
  }
}

void stack(const std::string& args) {
  auto r = sh(source_dir() + "/scripts/stack.sh " + args + " 2>&1");
  if (r.status != 0) throw std::runtime_error("scripts/stack.sh " + args + " failed: " + r.out);
}

std::string bootstrap() { return "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"; }

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static std::mt19937 rng(std::random_device{}());
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(rng() % 100000);
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind failed");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// ---- process -------------------------------------------------------------------------------
process::process(std::vector<std::string> args, std::map<std::string, std::string> env) {
  log_path_ = temp_file("");
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto name = kv.substr(0, kv.find('='));
    if (!env.count(name)) envs.push_back(kv);
  }
  for (auto& [k, v] : env) envs.push_back(k + "=" + v);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_APPEND);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    std::string bin = pokeflow_binary();
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    ::execve(bin.c_str(), argv.data(), envp.data());
    std::perror("execve");
    ::_exit(127);
  }
}

process::~process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
  std::remove(log_path_.c_str());
}

void process::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

std::optional<int> process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() > end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool process::running() { return !wait(std::chrono::milliseconds(0)); }

std::string process::log() const {
  std::ifstream in(log_path_);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  if (all.size() > 8192) all = "..." + all.substr(all.size() - 8192);
  return all;
}

// ---- HTTP ----------------------------------------------------------------------------------
namespace {
int connect_local(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}
}  // namespace

std::string raw_http(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  int fd = connect_local(port);
  if (fd < 0) return {};
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[8192];
  while (true) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

http_response http(std::uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                   const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  bool has_ct = false;
  for (auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (strcasecmp(k.c_str(), "content-type") == 0) has_ct = true;
  }
  if (!body.empty() && !has_ct) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  auto raw = raw_http(port, req, std::chrono::seconds(15));
  http_response r;
  auto head_end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || head_end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[name] = value;
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

std::optional<std::string> json_field(const std::string& json, const std::string& key) {
  auto k = "\"" + key + "\":";
  auto p = json.find(k);
  if (p == std::string::npos) return std::nullopt;
  p += k.size();
  while (p < json.size() && json[p] == ' ') ++p;
  if (p >= json.size()) return std::nullopt;
  if (json[p] == '"') {
    auto e = json.find('"', p + 1);
    return json.substr(p + 1, e - p - 1);
  }
  auto e = json.find_first_of(",}]", p);
  return json.substr(p, e - p);
}

std::optional<double> metric(const std::string& page, const std::string& series) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// ---- pipeline ------------------------------------------------------------------------------
pipeline::pipeline(pipeline_options o) : opts(std::move(o)) {
  auto id = unique_name("it");
  orders_topic = id + "-orders";
  states_topic = id + "-state";
  dlq_topic = id + "-dlq";
  fraud_group = id + "-fraud";
  updater_group = id + "-updater";
  api_port = free_port();
  auto r = sh(pokeflow_binary() + " topics init --profile=" + opts.profile + " --kafka-brokers=" + bootstrap() +
              " --orders-topic=" + orders_topic + " --states-topic=" + states_topic + " --dlq-topic=" + dlq_topic +
              " 2>&1");
  if (r.status != 0) throw std::runtime_error("topics init failed: " + r.out);
  if (opts.api) start("api");
  if (opts.fraud) start("fraud");
  if (opts.updater) start("updater");
  if (opts.reverser)
    start("reverser", {"--reverser-timeout=" + opts.reverser_timeout, "--reverser-interval=" + opts.reverser_interval});
}

pipeline::~pipeline() {
  for (auto& [name, p] : procs) p->signal(SIGTERM);
  for (auto& [name, p] : procs) p->wait(std::chrono::seconds(15));
  sh(pokeflow_binary() + " topics delete --kafka-brokers=" + bootstrap() + " --orders-topic=" + orders_topic +
     " --states-topic=" + states_topic + " --dlq-topic=" + dlq_topic + " >/dev/null 2>&1");
  // Events a test left unpublished name topics that are gone now; in the shared outbox they
  // would sit at the front of every later test's relay batches (oldest first) and time out
  // there round after round, so a later test's own events wait behind them.
  try {
    psql("DELETE FROM poke_outbox WHERE topic IN ('" + orders_topic + "', '" + states_topic + "')");
  } catch (...) {
  }
}

std::vector<std::string> pipeline::base_args(const std::string& role) const {
  return {"--role=" + role,
          "--kafka-brokers=" + bootstrap(),
          "--orders-topic=" + orders_topic,
          "--states-topic=" + states_topic,
          "--dlq-topic=" + dlq_topic,
          "--fraud-group=" + fraud_group,
          "--updater-group=" + updater_group,
          "--api-token=" + token,
          "--api-port=" + std::to_string(api_port),
          "--api-url=http://127.0.0.1:" + std::to_string(api_port),
          "--fraud-rules=" + source_dir() + "/config/fraud-rules.ini",
          "--shutdown-timeout=10s",
          // Off unless a test turns it on: a re-driver would write events for other tests'
          // leftover pending orders to this test's topics, which are gone when it ends.
          "--redrive-after=0"};
}

void pipeline::start(const std::string& role, std::vector<std::string> extra) {
  auto args = base_args(role);
  // An extra "--name=value" replaces the base argument of that name.
  for (const auto& e : extra) {
    auto eq = e.find('=');
    if (eq == std::string::npos) continue;
    auto name = e.substr(0, eq + 1);
    std::erase_if(args, [&](const std::string& a) { return a.rfind(name, 0) == 0; });
  }
  auto port = free_port();
  admin_ports[role] = port;
  args.push_back("--admin-port=" + std::to_string(port));
  for (auto& e : extra) args.push_back(e);
  procs[role] = std::make_unique<process>(args);
}

bool pipeline::wait_ready(const std::string& role, std::chrono::milliseconds timeout) {
  auto port = admin_ports.at(role);
  return eventually([&] { return http(port, "GET", "/readyz").status == 200; }, timeout);
}

std::string pipeline::metrics(const std::string& role) const {
  return http(admin_ports.at(role), "GET", "/metrics").body;
}

std::int64_t pipeline::create_order(std::int64_t user, const std::string& pokemon, double price,
                                    const std::string& country) {
  std::ostringstream body;
  body << "{\"user_id\":" << user << ",\"pokemon\":\"" << pokemon << "\",\"country\":\"" << country
       << "\",\"price\":" << price << "}";
  auto r = http(api_port, "POST", "/orders", body.str());
  if (r.status != 201) throw std::runtime_error("POST /orders gave " + std::to_string(r.status) + ": " + r.body);
  return std::stoll(json_field(r.body, "id").value());
}

std::string pipeline::state_of(std::int64_t id) const {
  return psql("SELECT state FROM poke_orders WHERE id = " + std::to_string(id));
}

}  // namespace pokeflow::test
