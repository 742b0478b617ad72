// The workers under faults that retrying cannot fix, and the re-driver, against the real stack:
// real pokeflow processes, PostgreSQL and the 3-broker Kafka.
#include <catch2/catch.hpp>

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

#include "core/kafka/producer.hpp"
#include "harness.hpp"

using namespace pokeflow::test;
using namespace std::chrono_literals;

namespace {
void require_ready(pipeline& p, const std::string& role) {
  INFO(p.procs.at(role)->log());
  REQUIRE(p.wait_ready(role, 60s));
}
}  // namespace

TEST_CASE("a producer's fatal error fails every later delivery at once and stays visible", "[kafka][faults]") {
  namespace asio = boost::asio;
  namespace kafka = pokeflow::core::kafka;
  pokeflow::kafka_config cfg;
  cfg.brokers = bootstrap();
  asio::io_context io;
  kafka::producer producer(io, cfg);
  std::optional<std::string> reachable;
  std::vector<kafka::delivery> got;
  auto work = [&]() -> asio::awaitable<void> {
    reachable = co_await producer.ping(std::chrono::milliseconds(5000));
    // As the broker would after a broken sequence (OUT_OF_ORDER_SEQUENCE_NUMBER, 45).
    producer.raise_fatal_error_for_test(45, "test: sequence broken");
    asio::steady_timer t(io, std::chrono::milliseconds(500));  // the error callback is served meanwhile
    co_await t.async_wait(asio::use_awaitable);
    got.push_back(co_await producer.produce("pokeflow-fatal-test", kafka::unassigned_partition, "k", "v"));
    got.push_back(co_await producer.produce("pokeflow-fatal-test", kafka::unassigned_partition, "k", "v"));
  };
  asio::co_spawn(io, work(), [&](std::exception_ptr e) {
    io.stop();
    if (e) std::rethrow_exception(e);
  });
  const auto t0 = std::chrono::steady_clock::now();
  io.run();
  INFO(reachable.value_or("brokers reachable"));
  REQUIRE_FALSE(reachable);
  REQUIRE(got.size() == 2);
  for (const auto& d : got) {
    REQUIRE(d.error);
    CHECK(d.error->kind == kafka::error_kind::fatal);
  }
  // No message timeout waited out: a fatal producer refuses at once.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  auto fatal = producer.fatal_error();
  REQUIRE(fatal);
  CHECK(fatal->message.find("fatal producer error") != std::string::npos);
  CHECK(fatal->message.find("sequence broken") != std::string::npos);
}

TEST_CASE("an updater whose token the api refuses exits 70 and commits nothing", "[pipeline][faults][updater]") {
  pipeline_options o;
  o.updater = false;
  o.reverser = false;
  pipeline p(o);
  for (auto r : {"api", "fraud"}) require_ready(p, r);
  auto id = p.create_order(1, "Pikachu", 10);  // fraud says success
  p.start("updater", {"--api-token=not-the-api-token"});
  auto& wrong = *p.procs.at("updater");
  auto status = wrong.wait(60s);
  auto log = wrong.log();
  INFO(log);
  // Before: 401 was retried forever with a warning per attempt while /readyz stayed green.
  REQUIRE(status == std::optional<int>(70));
  CHECK(log.find("api refused the updater") != std::string::npos);
  CHECK(log.find("\"status\":401") != std::string::npos);
  CHECK(log.find("task failed, ending the process") != std::string::npos);
  CHECK(p.state_of(id) == "pending");
  // It committed nothing: an updater with the right token applies the same decision.
  p.start("updater");
  INFO(p.procs.at("updater")->log());
  CHECK(eventually([&] { return p.state_of(id) == "success"; }, 60s));
}
