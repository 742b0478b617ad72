// The admin client against librdkafka's own in-process mock cluster (rdkafka_mock.h), the one
// way to make a broker give a chosen error on a chosen request deterministically. Regression for
// librdkafka issue 5040 (unfixed upstream): a NOT_COORDINATOR answer to the OffsetFetch of
// ListConsumerGroupOffsets made librdkafka re-query the coordinator through the admin handle's
// consumer group, which an admin handle has not: SIGSEGV. The api's dashboard asks for group lag
// every second, so this killed the api (found by the contract test). scripts/patches/ fixes it.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/kafka/admin.hpp"
#include "core/kafka/types.hpp"

using namespace pokeflow::core::kafka;

namespace {

constexpr std::int16_t api_offset_fetch = 9;  // Kafka protocol ApiKey of OffsetFetch

struct mock_cluster {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;
  explicit mock_cluster(int brokers) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    mc = rd_kafka_mock_cluster_new(rk, brokers);
    REQUIRE(mc != nullptr);
  }
  ~mock_cluster() {
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc); }
};

// Parameters, not lambda captures: a coroutine's frame keeps its parameters, while a capturing
// lambda's captures die with the lambda object at the end of co_spawn's full expression.
boost::asio::awaitable<void> ask_lag(admin& adm, bool& done, std::optional<std::string>& failure) {
  try {
    co_await adm.group_lag("pf-mock-group");
  } catch (const kafka_exception& e) {
    failure = e.what();
  }
  done = true;
}

}  // namespace

TEST_CASE("a NOT_COORDINATOR answer to a group's committed offsets is an error, not a crash", "[kafka]") {
  mock_cluster cluster(3);
  REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "pf-mock-orders", 3, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  boost::asio::io_context io;
  pokeflow::kafka_config cfg;
  cfg.brokers = cluster.bootstraps();
  admin_options opts;
  opts.request_timeout = std::chrono::milliseconds(5000);
  opts.quiet = true;
  admin adm(io, cfg, opts);

  for (auto err : {RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                   RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS}) {
    CAPTURE(rd_kafka_err2name(err));
    rd_kafka_mock_push_request_errors(cluster.mc, api_offset_fetch, 1, err);
    bool done = false;
    std::optional<std::string> failure;
    boost::asio::co_spawn(io, ask_lag(adm, done, failure), boost::asio::detached);
    io.restart();
    io.run_for(std::chrono::seconds(20));
    // Answered (an error naming the group, or a retry that succeeded), and the process is alive.
    CHECK(done);
    if (failure) CHECK_THAT(*failure, Catch::Contains("pf-mock-group"));
  }
}
