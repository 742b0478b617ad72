#pragma once
// Helpers for integration tests against the real local stack: child processes of the real
// pokeflow binary, a blocking HTTP/1.1 client over plain sockets, psql and kcat via popen.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace pokeflow::test {

// Runs a shell command, returns its exit status and stdout.
struct shell_result {
  int status = -1;
  std::string out;
};
shell_result sh(const std::string& cmd);

// psql -tA against the stack's database; throws std::runtime_error (with psql's stderr) on error.
std::string psql(const std::string& sql);
std::int64_t psql_int(const std::string& sql);

// The stack's script (scripts/stack.sh) with arguments; throws on failure.
void stack(const std::string& args);

std::string bootstrap();  // 127.0.0.1:19092,...

// A unique suffix for topics, groups and ports of one test.
std::string unique_name(const std::string& prefix);
std::uint16_t free_port();

// One pokeflow child process; stdout+stderr go to a log file kept for failure messages.
class process {
 public:
  process(std::vector<std::string> args, std::map<std::string, std::string> env = {});
  ~process();  // SIGKILL if still running
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; returns the exit status (128+signal when killed), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;  // everything it printed so far (last 8 KiB)

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

struct http_response {
  int status = 0;  // 0: connection failed
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};
http_response http(std::uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body = {}, const std::map<std::string, std::string>& headers = {});
// Sends raw bytes and returns what came back before the server closed (or timeout).
std::string raw_http(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout);

// Polls fn every 100 ms until it returns true or timeout passes.
template <class F>
bool eventually(F fn, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (fn()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    struct timespec ts{0, 100 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

// Extracts a top-level number or string field from a flat JSON object (test-only helper).
std::optional<std::string> json_field(const std::string& json, const std::string& key);

// A metric's value from a Prometheus text page ("name{labels}" exact match of the series).
std::optional<double> metric(const std::string& page, const std::string& series);

// The pipeline as separate role processes on private topics and ports.
struct pipeline_options {
  bool api = true, fraud = true, updater = true, reverser = true;
  std::string reverser_timeout = "30m";
  std::string reverser_interval = "60s";
  std::string profile = "safe";
};

class pipeline {
 public:
  explicit pipeline(pipeline_options opts = {});
  ~pipeline();
  std::string orders_topic, states_topic, dlq_topic, fraud_group, updater_group;
  std::uint16_t api_port = 0;
  std::map<std::string, std::uint16_t> admin_ports;  // role -> admin port
  std::map<std::string, std::unique_ptr<process>> procs;
  std::string token = "it-token";
  pipeline_options opts;

  // Common args every role gets (topics, brokers, token, api url).
  std::vector<std::string> base_args(const std::string& role) const;
  void start(const std::string& role, std::vector<std::string> extra = {});
  bool wait_ready(const std::string& role, std::chrono::milliseconds timeout);
  std::string metrics(const std::string& role) const;
  // POST /orders; returns the id (throws with the response on anything but 201).
  std::int64_t create_order(std::int64_t user, const std::string& pokemon, double price,
                            const std::string& country = "Chile");
  std::string state_of(std::int64_t id) const;  // from PostgreSQL
};

std::string pokeflow_binary();
std::string source_dir();

}  // namespace pokeflow::test
