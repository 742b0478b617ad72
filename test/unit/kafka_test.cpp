// Kafka wire encoding of the reassignment requests (hand-checked bytes), error classification,
// and configuration errors. No network.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "core/kafka/consumer.hpp"
#include "core/kafka/producer.hpp"
#include "core/kafka/protocol.hpp"
#include "core/kafka/types.hpp"

using namespace pokeflow::core::kafka;
using bytes = std::vector<std::uint8_t>;

TEST_CASE("AlterPartitionReassignments v0 request bytes", "[kafka]") {
  auto frame = protocol::encode_alter_partition_reassignments(7, "pf", 30000, {{"t", 0, std::vector<std::int32_t>{1, 2, 3}}});
  const bytes expected{
      0x00, 0x00, 0x00, 0x29,              // size 41
      0x00, 0x2d, 0x00, 0x00,              // api key 45, version 0
      0x00, 0x00, 0x00, 0x07,              // correlation id
      0x00, 0x02, 'p',  'f',               // client_id (int16 length: header v2 keeps it classic)
      0x00,                                // header tagged fields
      0x00, 0x00, 0x75, 0x30,              // timeout_ms 30000
      0x02,                                // topics: compact array of 1
      0x02, 't',                           // name: compact string
      0x02,                                // partitions: 1
      0x00, 0x00, 0x00, 0x00,              // partition 0
      0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,  // replicas [1,2,3]
      0x00,                                // partition tags
      0x00,                                // topic tags
      0x00,                                // request tags
  };
  CHECK(frame == expected);
}

TEST_CASE("AlterPartitionReassignments groups partitions per topic and encodes a cancel as null", "[kafka]") {
  auto frame = protocol::encode_alter_partition_reassignments(
      1, "", 1000, {{"a", 0, std::vector<std::int32_t>{1}}, {"b", 2, std::nullopt}, {"a", 1, std::vector<std::int32_t>{2}}});
  const bytes expected{
      0x00, 0x00, 0x00, 0x33,  // size 51
      0x00, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x03, 0xe8,  // timeout 1000
      0x03,                    // 2 topics
      0x02, 'a', 0x03,         // "a", 2 partitions
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
      0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00,
      0x00,                    // topic tags
      0x02, 'b', 0x02,         // "b", 1 partition
      0x00, 0x00, 0x00, 0x02, 0x00, 0x00,  // partition 2, replicas null, tags
      0x00,                    // topic tags
      0x00,                    // request tags
  };
  CHECK(frame == expected);
}

TEST_CASE("long names use multi-byte unsigned varints", "[kafka]") {
  std::string name(200, 'x');
  auto frame = protocol::encode_alter_partition_reassignments(1, "", 0, {{name, 0, std::vector<std::int32_t>{}}});
  // header 11 bytes + 4 (size) + 4 (timeout) + 1 (array) = offset 20 for the name length.
  REQUIRE(frame.size() > 22);
  CHECK(frame[19] == 0x02);  // one topic
  CHECK(frame[20] == 0xc9);  // 201 = 0b1_1001001 -> 0xc9 0x01
  CHECK(frame[21] == 0x01);
  CHECK(frame[22] == 'x');
}

TEST_CASE("ListPartitionReassignments v0 request bytes", "[kafka]") {
  auto some = protocol::encode_list_partition_reassignments(
      9, "pf", 5000, std::vector<protocol::topic_partitions>{{"t", {0, 2}}});
  const bytes expected_some{
      0x00, 0x00, 0x00, 0x1f,                          // size 31
      0x00, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,  // api key 46, v0, correlation 9
      0x00, 0x02, 'p',  'f',  0x00,                    // client id, header tags
      0x00, 0x00, 0x13, 0x88,                          // timeout 5000
      0x02, 0x02, 't',                                 // 1 topic "t"
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,  // partitions [0, 2]
      0x00, 0x00,                                      // topic tags, request tags
  };
  CHECK(some == expected_some);

  auto all = protocol::encode_list_partition_reassignments(9, "pf", 5000, std::nullopt);
  const bytes expected_all{0x00, 0x00, 0x00, 0x13, 0x00, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00,
                           0x02, 'p',  'f',  0x00, 0x00, 0x00, 0x13, 0x88, 0x00 /* null topics */, 0x00};
  CHECK(all == expected_all);
}

TEST_CASE("AlterPartitionReassignments response decoding", "[kafka]") {
  const bytes body{
      0x00, 0x00, 0x00, 0x07,                    // correlation id 7
      0x01, 0x00, 0x02, 0xaa, 0xbb,              // header: one unknown tagged field, skipped
      0x00, 0x00, 0x00, 0x05,                    // throttle 5
      0x00, 0x00,                                // error 0
      0x00,                                      // error message null
      0x02, 0x02, 't',                           // 1 topic "t"
      0x02, 0x00, 0x00, 0x00, 0x01,              // 1 partition: 1
      0x00, 0x27, 0x04, 'b', 'a', 'd', 0x00,     // error 39, "bad", tags
      0x00, 0x00,                                // topic tags, response tags
  };
  auto r = protocol::decode_alter_partition_reassignments(body);
  CHECK(r.correlation_id == 7);
  CHECK(r.throttle_time_ms == 5);
  CHECK(r.error_code == 0);
  REQUIRE(r.partitions.size() == 1);
  CHECK(r.partitions[0].topic == "t");
  CHECK(r.partitions[0].partition == 1);
  CHECK(r.partitions[0].error_code == 39);
  CHECK(r.partitions[0].error_message == "bad");

  for (std::size_t cut = 0; cut < body.size(); ++cut)
    CHECK_THROWS_AS(protocol::decode_alter_partition_reassignments(std::span(body.data(), cut)), protocol::decode_error);
}

TEST_CASE("ListPartitionReassignments response decoding", "[kafka]") {
  const bytes body{
      0x00, 0x00, 0x00, 0x09, 0x00,                                // correlation 9, no tags
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                    // throttle, error, null message
      0x02, 0x02, 't', 0x02, 0x00, 0x00, 0x00, 0x01,               // topic "t", partition 1
      0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,  // replicas
      0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,        // adding [2,3]
      0x01,                                                        // removing []
      0x00, 0x00, 0x00,
  };
  auto r = protocol::decode_list_partition_reassignments(body);
  CHECK(r.correlation_id == 9);
  REQUIRE(r.ongoing.size() == 1);
  CHECK(r.ongoing[0].topic == "t");
  CHECK(r.ongoing[0].partition == 1);
  CHECK(r.ongoing[0].replicas == std::vector<std::int32_t>{1, 2, 3});
  CHECK(r.ongoing[0].adding == std::vector<std::int32_t>{2, 3});
  CHECK(r.ongoing[0].removing.empty());

  bytes huge_array = {0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x03};
  CHECK_THROWS_AS(protocol::decode_list_partition_reassignments(huge_array), protocol::decode_error);
}

TEST_CASE("error classification", "[kafka]") {
  // Transient: broker down, timeouts, leadership moves, not enough replicas.
  for (int code : {-195 /*_TRANSPORT*/, -192 /*_MSG_TIMED_OUT*/, -187 /*_ALL_BROKERS_DOWN*/, -185 /*_TIMED_OUT*/,
                   -184 /*_QUEUE_FULL*/, 3 /*UNKNOWN_TOPIC_OR_PART*/, 5 /*LEADER_NOT_AVAILABLE*/,
                   6 /*NOT_LEADER_FOR_PARTITION*/, 7 /*REQUEST_TIMED_OUT*/, 19 /*NOT_ENOUGH_REPLICAS*/,
                   20 /*NOT_ENOUGH_REPLICAS_AFTER_APPEND*/, 27 /*REBALANCE_IN_PROGRESS*/})
    CHECK(classify(code) == error_kind::retryable);
  // Permanent: too large, invalid, not authorized, fenced, bad config.
  for (int code : {10 /*MSG_SIZE_TOO_LARGE*/, 29 /*TOPIC_AUTHORIZATION_FAILED*/, 87 /*INVALID_RECORD*/,
                   90 /*PRODUCER_FENCED*/, -150 /*_FATAL*/, -186 /*_INVALID_ARG*/, -172 /*_STATE*/,
                   22 /*ILLEGAL_GENERATION*/, 36 /*TOPIC_ALREADY_EXISTS*/})
    CHECK(classify(code) == error_kind::fatal);
  // Unknown codes fall back to fatal so they surface instead of looping forever.
  CHECK(classify(12345) == error_kind::fatal);
  CHECK(error_name(-192) == "_MSG_TIMED_OUT");
  CHECK(error_name(19) == "NOT_ENOUGH_REPLICAS");
  auto e = make_error(19, "delivery to poke-orders");
  CHECK(e.kind == error_kind::retryable);
  CHECK(e.message.find("delivery to poke-orders: ") == 0);
  CHECK(e.message.find("NOT_ENOUGH_REPLICAS") != std::string::npos);
}

TEST_CASE("an invalid pass-through property is a startup error naming it", "[kafka]") {
  boost::asio::io_context io;
  pokeflow::kafka_config cfg;
  cfg.properties["no.such.property"] = "1";
  try {
    producer p(io, cfg);
    FAIL("producer accepted an unknown property");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("no.such.property") != std::string::npos);
  }
  cfg.properties.clear();
  cfg.properties["enable.idempotence"] = "maybe";
  CHECK_THROWS_WITH(producer(io, cfg), Catch::Contains("enable.idempotence"));
  cfg.properties.clear();
  CHECK_THROWS_AS(consumer(io, cfg, consumer_options{}), std::invalid_argument);  // empty group id
}
