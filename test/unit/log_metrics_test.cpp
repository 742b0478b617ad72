#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/process_metrics.hpp"
#include "temp_dir.hpp"

using namespace pokeflow;

namespace {
// promtool (Debian's prometheus package) is the judge of the format: its exit code and report.
std::pair<int, std::string> promtool_check(const std::string& exposition) {
  pokeflow::test::temp_dir dir;
  const auto path = dir.file("metrics.prom"), report_path = dir.file("promtool.out");
  std::ofstream(path) << exposition;
  int rc = std::system(("promtool check metrics < '" + path + "' > '" + report_path + "' 2>&1").c_str());
  std::ifstream out(report_path);
  return {rc, std::string((std::istreambuf_iterator<char>(out)), {})};
}
}  // namespace

TEST_CASE("log lines are one JSON object with escaped fields", "[log]") {
  auto line = core::log::format(log_level::warn, "order \"odd\"\n", {{"order_id", 42}, {"ok", true},
                                                                       {"price", 1.5}, {"who", "a\\b"}});
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line.find("\"level\":\"warn\"") != std::string::npos);
  CHECK(line.find("\"msg\":\"order \\\"odd\\\"\\n\"") != std::string::npos);
  CHECK(line.find("\"order_id\":42") != std::string::npos);
  CHECK(line.find("\"ok\":true") != std::string::npos);
  CHECK(line.find("\"price\":1.5") != std::string::npos);
  CHECK(line.find("\"who\":\"a\\\\b\"") != std::string::npos);
}

TEST_CASE("a role's logger names the role in every line, and process lines have none", "[log]") {
  auto line = core::log::format(log_level::info, "decided", {{"order_id", 7}}, "fraud");
  CHECK(line.find("\"msg\":\"decided\",\"role\":\"fraud\",\"order_id\":7}") != std::string::npos);
  CHECK(core::log::format(log_level::info, "starting", {}).find("\"role\"") == std::string::npos);

  // What the loggers really write: stdout captured in a file.
  core::log::set_level(log_level::info);
  pokeflow::test::temp_dir dir;
  const auto path = dir.file("stdout");
  std::fflush(stdout);
  int saved = ::dup(STDOUT_FILENO);
  REQUIRE(saved >= 0);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  ::dup2(fd, STDOUT_FILENO);
  ::close(fd);
  core::log::logger fraud("fraud"), updater("updater");
  fraud.info("from fraud");
  updater.warn("from updater", {{"partition", 2}});
  core::log::info("from main");
  fraud.debug("filtered out at info");
  std::fflush(stdout);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);

  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("\"msg\":\"from fraud\",\"role\":\"fraud\"") != std::string::npos);
  CHECK(lines[1].find("\"msg\":\"from updater\",\"role\":\"updater\",\"partition\":2}") != std::string::npos);
  CHECK(lines[2].find("\"role\"") == std::string::npos);
  CHECK(fraud.role() == "fraud");
  CHECK(core::log::logger().role().empty());
}

TEST_CASE("log level filters", "[log]") {
  core::log::set_level(log_level::warn);
  CHECK_FALSE(core::log::enabled(log_level::info));
  CHECK(core::log::enabled(log_level::error));
  core::log::set_level(log_level::info);
  CHECK(core::log::enabled(log_level::info));
}

TEST_CASE("metrics render in Prometheus text format", "[metrics]") {
  core::metrics::registry r;
  r.get_counter("http_requests_total", "Requests", {{"route", "/orders"}, {"status", "201"}}).inc();
  r.get_counter("http_requests_total", "Requests", {{"route", "/orders"}, {"status", "201"}}).inc(2);
  r.get_gauge("pokeflow_outbox_backlog", "Backlog").set(7);
  auto& h = r.get_histogram("http_request_duration_seconds", "Latency", {{"route", "/orders"}});
  h.observe(0.0007);
  h.observe(0.003);
  h.observe(100);
  r.add_callback_gauge("process_resident_memory_bytes", "RSS", [] { return 1234.0; });
  auto text = r.render();
  CHECK(text.find("# TYPE http_requests_total counter") != std::string::npos);
  CHECK(text.find("http_requests_total{route=\"/orders\",status=\"201\"} 3") != std::string::npos);
  CHECK(text.find("pokeflow_outbox_backlog 7") != std::string::npos);
  CHECK(text.find("http_request_duration_seconds_bucket{route=\"/orders\",le=\"0.001\"} 1") != std::string::npos);
  CHECK(text.find("http_request_duration_seconds_bucket{route=\"/orders\",le=\"0.005\"} 2") != std::string::npos);
  CHECK(text.find("http_request_duration_seconds_bucket{route=\"/orders\",le=\"+Inf\"} 3") != std::string::npos);
  CHECK(text.find("http_request_duration_seconds_count{route=\"/orders\"} 3") != std::string::npos);
  CHECK(text.find("process_resident_memory_bytes 1234") != std::string::npos);
  CHECK_THROWS(r.get_gauge("http_requests_total", "clash"));
  CHECK_THROWS(r.get_counter("bad name", "x"));

  auto [rc, report] = promtool_check(text);
  INFO(report);
  CHECK(rc == 0);
}

TEST_CASE("a callback counter renders as a counter that promtool accepts", "[metrics]") {
  core::metrics::registry r;
  double cpu = 1.25;
  r.add_callback_counter("process_cpu_seconds_total", "CPU", [&cpu] { return cpu; });
  r.get_counter("pokeflow_orders_created_total", "Orders").inc(4);
  auto text = r.render();
  CHECK(text.find("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.25\n") != std::string::npos);
  cpu = 2.5;  // read at scrape time
  CHECK(r.render().find("process_cpu_seconds_total 2.5\n") != std::string::npos);
  CHECK_THROWS(r.add_callback_gauge("process_cpu_seconds_total", "clash", [] { return 0.0; }));
  r.add_callback_counter("broken_total", "throws", []() -> double { throw std::runtime_error("no /proc"); });
  CHECK(r.render().find("broken_total NaN\n") != std::string::npos);

  auto [rc, report] = promtool_check(text);
  INFO(report);
  CHECK(rc == 0);
}

TEST_CASE("the process metrics follow Prometheus' names and types", "[metrics]") {
  core::metrics::registry r;
  core::register_process_metrics(r);
  auto text = r.render();
  CHECK(text.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
  CHECK(text.find("# TYPE process_resident_memory_bytes gauge") != std::string::npos);
  CHECK(text.find("# TYPE process_start_time_seconds gauge") != std::string::npos);
  CHECK(text.find("process_cpu_seconds ") == std::string::npos);  // the old, untyped-as-counter name
}

TEST_CASE("label values are escaped", "[metrics]") {
  core::metrics::registry r;
  r.get_counter("x_total", "x", {{"path", "a\"b\\c\nd"}}).inc();
  CHECK(r.render().find("x_total{path=\"a\\\"b\\\\c\\nd\"} 1") != std::string::npos);
}
