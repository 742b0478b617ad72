#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/log.hpp"
#include "core/metrics.hpp"

using namespace pokeflow;

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

  // promtool (Debian's prometheus package) is the judge of the format.
  const char* path = "/tmp/pokeflow-metrics-test.prom";
  std::ofstream(path) << text;
  int rc = std::system((std::string("promtool check metrics < ") + path + " > /tmp/pokeflow-promtool.out 2>&1").c_str());
  std::ifstream out("/tmp/pokeflow-promtool.out");
  std::string report((std::istreambuf_iterator<char>(out)), {});
  INFO(report);
  CHECK(rc == 0);
}

TEST_CASE("label values are escaped", "[metrics]") {
  core::metrics::registry r;
  r.get_counter("x_total", "x", {{"path", "a\"b\\c\nd"}}).inc();
  CHECK(r.render().find("x_total{path=\"a\\\"b\\\\c\\nd\"} 1") != std::string::npos);
}
