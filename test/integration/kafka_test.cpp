// Against the real local 3-broker Kafka (scripts/stack.sh up). Every test uses its own topic
// and group names (suffix = pid + time) and deletes them at the end, so the pipeline's topics
// are never touched.
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "core/kafka/admin.hpp"
#include "core/kafka/consumer.hpp"
#include "core/kafka/producer.hpp"
#include "core/kafka/topics.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace kafka = pokeflow::core::kafka;
using asio::awaitable;

namespace {

pokeflow::kafka_config stack_config() {
  pokeflow::kafka_config c;
  if (const char* b = std::getenv("POKEFLOW_STACK_KAFKA_BOOTSTRAP"); b && *b) c.brokers = b;
  return c;
}

std::string unique(const std::string& prefix) {
  auto t = std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(t);
}

// Runs one coroutine to completion. The clients keep a wake-up watch pending forever, so the
// loop is stopped explicitly when the coroutine ends.
template <class T>
T run(asio::io_context& io, awaitable<T> a) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
    error = e;
    if (!e) result.emplace(std::move(v));
    io.stop();
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  REQUIRE(result);
  return std::move(*result);
}

void run(asio::io_context& io, awaitable<void> a) {
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, std::move(a), [&](std::exception_ptr e) {
    error = e;
    done = true;
    io.stop();
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  REQUIRE(done);
}

void require_stack(asio::io_context& io, kafka::admin& admin) {
  auto reason = run(io, admin.ping(5000ms));
  if (reason) FAIL("Kafka stack not reachable (start it with scripts/stack.sh up): " << *reason);
}

// Consumes until `want` messages arrived or the deadline passed.
awaitable<std::vector<kafka::message>> consume(kafka::consumer& c, std::size_t want, std::chrono::seconds limit) {
  std::vector<kafka::message> got;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    auto batch = co_await c.next_batch(100, 500ms);
    for (auto& m : batch) got.push_back(std::move(m));
  }
  co_return got;
}

// Deletes a test's topics and groups when it ends, also after a failed REQUIRE.
struct cleanup {
  pokeflow::kafka_config cfg;
  std::vector<std::string> topics;
  std::vector<std::string> groups;
  ~cleanup() {
    try {
      asio::io_context io;
      kafka::admin a(io, cfg, kafka::admin_options{"pokeflow-test-cleanup", 5000ms, true});
      auto work = [&]() -> awaitable<void> {
        for (const auto& g : groups) co_await a.delete_group(g);
        if (!topics.empty()) co_await a.delete_topics(topics);
      };
      asio::co_spawn(io, work(), [&](std::exception_ptr) { io.stop(); });
      io.run();
    } catch (...) {
    }
  }
};

int topics(const pokeflow::kafka_config& cfg, const char* verb, kafka::topics_options opts, std::string& out,
           std::string& err) {
  std::ostringstream o, e;
  int rc = kafka::run_topics_command(cfg, verb, opts, o, e);
  out = o.str();
  err = e.str();
  UNSCOPED_INFO("topics " << verb << " rc=" << rc << "\nstdout:\n" << out << "stderr:\n" << err);
  return rc;
}

}  // namespace

TEST_CASE("kafka produce/consume round trip with explicit commits and lag", "[kafka]") {
  asio::io_context io;
  auto cfg = stack_config();
  kafka::admin admin(io, cfg);
  require_stack(io, admin);
  const std::string topic = unique("kt-roundtrip");
  const std::string group = unique("kt-group");
  cleanup guard{cfg, {topic}, {group}};

  auto created = run(io, admin.create_topics({{topic, 3, 3, {{"min.insync.replicas", "2"}}}}));
  REQUIRE(created.size() == 1);
  REQUIRE_FALSE(created[0].error);

  kafka::producer producer(io, cfg);
  CHECK_FALSE(run(io, producer.ping()));

  // 60 messages spread by key; every delivery report carries a real offset.
  std::vector<std::string> keys, values;
  for (int i = 0; i < 60; ++i) {
    keys.push_back("order-" + std::to_string(i));
    values.push_back(R"({"id":)" + std::to_string(i) + "}");
  }
  std::vector<kafka::outgoing> batch;
  for (int i = 0; i < 60; ++i)
    batch.push_back({topic, kafka::unassigned_partition, keys[i], values[i], {{"source", "test"}}});
  auto reports = run(io, producer.produce_batch(batch));
  REQUIRE(reports.size() == 60);
  std::map<std::int32_t, std::int64_t> end_offsets;  // partition -> last offset + 1
  for (const auto& r : reports) {
    REQUIRE(r.ok());
    CHECK(r.offset >= 0);
    end_offsets[r.partition] = std::max(end_offsets[r.partition], r.offset + 1);
  }
  CHECK(end_offsets.size() == 3);  // 60 keys hash onto all three partitions

  kafka::consumer consumer(io, cfg, kafka::consumer_options{group});
  std::vector<kafka::rebalance_event> events;
  consumer.on_rebalance([&](const kafka::rebalance_event& e) { events.push_back(e); });
  consumer.subscribe({topic});

  auto got = run(io, consume(consumer, 60, 60s));
  REQUIRE(got.size() == 60);
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().what == kafka::rebalance_event::kind::assigned);
  CHECK(consumer.assignment().size() == 3);
  std::map<std::string, std::string> by_key;
  std::map<std::int32_t, std::int64_t> next_offsets;
  for (const auto& m : got) {
    REQUIRE(m.key);
    by_key[*m.key] = m.value;
    CHECK(m.header_value("source") == std::optional<std::string_view>("test"));
    next_offsets[m.partition] = std::max(next_offsets[m.partition], m.offset + 1);
  }
  CHECK(by_key.size() == 60);
  CHECK(by_key["order-7"] == R"({"id":7})");
  CHECK(next_offsets == end_offsets);

  // Consumer-side lag: everything read, so high watermark == position.
  auto lag = consumer.lag();
  REQUIRE(lag.size() == 3);
  for (const auto& l : lag) {
    CHECK(l.position == end_offsets[l.partition]);
    CHECK(l.lag == 0);
  }

  // Before any commit the group is behind by everything; after committing, by nothing.
  auto before = run(io, admin.group_lag(group));
  CHECK(before.empty());
  for (const auto& [p, next] : next_offsets) CHECK_FALSE(run(io, consumer.commit(topic, p, next)));
  auto after = run(io, admin.group_lag(group));
  REQUIRE(after.size() == 3);
  for (const auto& l : after) {
    CHECK(l.position == end_offsets[l.partition]);
    CHECK(l.high_watermark == end_offsets[l.partition]);
    CHECK(l.lag == 0);
  }

  // Two more messages, read but not committed.
  auto d0 = run(io, producer.produce(topic, 0, "p0", "zero"));
  auto d1 = run(io, producer.produce(topic, 1, "p1", "one"));
  REQUIRE(d0.ok());
  REQUIRE(d1.ok());
  CHECK(d0.partition == 0);
  CHECK(d1.partition == 1);
  auto more = run(io, consume(consumer, 2, 20s));
  REQUIRE(more.size() == 2);
  std::set<std::string> more_values;
  for (const auto& m : more) more_values.insert(m.value);
  CHECK(more_values == std::set<std::string>{"zero", "one"});

  // Uncommitted messages show up as group lag (admin view: high watermark - committed).
  auto behind = run(io, admin.group_lag(group));
  std::int64_t total = 0;
  for (const auto& l : behind) total += l.lag;
  CHECK(total == 2);

  // A commit for a partition we do not own is refused locally.
  auto refused = run(io, consumer.commit(topic + "-other", 0, 1));
  REQUIRE(refused);
  CHECK(refused->kind == kafka::error_kind::fatal);

  run(io, consumer.close(10s));
  REQUIRE(events.size() >= 2);
  CHECK(events.back().what == kafka::rebalance_event::kind::revoked);
  CHECK(consumer.assignment().empty());

  // Producing to a topic that does not exist fails within message.timeout.ms, as retryable.
  kafka::producer impatient(io, cfg, kafka::producer_options{"pokeflow-test", 2000ms});
  auto missing = run(io, impatient.produce(unique("kt-missing"), kafka::unassigned_partition, "k", "v"));
  REQUIRE(missing.error);
  CHECK(missing.error->kind == kafka::error_kind::retryable);
  CHECK(run(io, producer.flush(5s)));

  CHECK_FALSE(run(io, admin.delete_group(group)));
  auto deleted = run(io, admin.delete_topics({topic}));
  REQUIRE(deleted.size() == 1);
  CHECK_FALSE(deleted[0].error);
}

TEST_CASE("kafka topics init/describe/fix/delete on test-specific topics", "[kafka]") {
  auto cfg = stack_config();
  const std::string suffix = unique("kt");
  cfg.orders_topic = suffix + "-orders";
  cfg.states_topic = suffix + "-state";
  cfg.dlq_topic = suffix + "-dlq";
  const std::string group = suffix + "-fraud";
  cleanup guard{cfg, {cfg.orders_topic, cfg.states_topic, cfg.dlq_topic}, {group, suffix + "-reader"}};
  kafka::topics_options opts;
  opts.group_names = {group};
  std::string out, err;

  asio::io_context io;
  kafka::admin admin(io, cfg);
  require_stack(io, admin);

  REQUIRE(topics(cfg, "init", opts, out, err) == 0);
  CHECK(out.find("created " + cfg.orders_topic + ": partitions 3, replication 1, min.insync.replicas 1") !=
        std::string::npos);
  CHECK(out.find("created " + cfg.states_topic + ": partitions 3, replication 3, min.insync.replicas 2") !=
        std::string::npos);
  // Idempotent: the second run reports what exists and succeeds.
  REQUIRE(topics(cfg, "init", opts, out, err) == 0);
  CHECK(out.find("exists  " + cfg.orders_topic + ": partitions 3, replication 1, min.insync.replicas 1") !=
        std::string::npos);
  CHECK(out.find("created") == std::string::npos);

  // Partitions (and so leaders) are spread over all three brokers.
  auto md = run(io, admin.describe_cluster());
  REQUIRE(md.brokers.size() == 3);
  for (const auto& name : {cfg.orders_topic, cfg.states_topic, cfg.dlq_topic}) {
    const auto* t = md.find(name);
    REQUIRE(t);
    REQUIRE(t->partitions.size() == 3);
    std::set<std::int32_t> leaders;
    for (const auto& p : t->partitions) leaders.insert(p.leader);
    CHECK(leaders.size() == 3);
  }
  REQUIRE(topics(cfg, "describe", opts, out, err) == 0);
  CHECK(out.find("brokers: 3") != std::string::npos);
  CHECK(out.find("topic " + cfg.orders_topic + ": partitions 3, replication 1, min.insync.replicas 1") !=
        std::string::npos);
  CHECK(out.find("topic " + cfg.dlq_topic + ": partitions 3, replication 3, min.insync.replicas 2") !=
        std::string::npos);
  CHECK(out.find("OFFLINE") == std::string::npos);

  // Data written at replication 1, plus an unrelated topic config that fix must not wipe.
  {
    std::map<std::string, std::string> retention{{"retention.ms", "86400000"}};
    run(io, admin.alter_topic_config(cfg.orders_topic, retention));
    kafka::producer producer(io, cfg);
    std::vector<std::string> values;
    for (int i = 0; i < 30; ++i) values.push_back("before-fix-" + std::to_string(i));
    std::vector<kafka::outgoing> batch;
    for (const auto& v : values) batch.push_back({cfg.orders_topic, kafka::unassigned_partition, v, v, {}});
    for (const auto& r : run(io, producer.produce_batch(batch))) REQUIRE(r.ok());
  }
  // The group commits what it read so describe --groups has something to show.
  {
    kafka::consumer c(io, cfg, kafka::consumer_options{group});
    c.subscribe({cfg.orders_topic});
    auto got = run(io, consume(c, 30, 60s));
    REQUIRE(got.size() == 30);
    std::map<std::int32_t, std::int64_t> next;
    for (const auto& m : got) next[m.partition] = std::max(next[m.partition], m.offset + 1);
    std::vector<kafka::consumer::offset> offs;
    for (const auto& [p, o] : next) offs.push_back({cfg.orders_topic, p, o - 1});  // leave 1 behind per partition
    CHECK_FALSE(run(io, c.commit(offs)));
    run(io, c.close(10s));
  }
  opts.groups = true;
  REQUIRE(topics(cfg, "describe", opts, out, err) == 0);
  CHECK(out.find("group " + group) != std::string::npos);
  CHECK(out.find("total lag 3") != std::string::npos);
  opts.groups = false;

  REQUIRE(topics(cfg, "fix", opts, out, err) == 0);
  CHECK(out.find(cfg.orders_topic + ": min.insync.replicas 1 -> 2") != std::string::npos);
  md = run(io, admin.describe_cluster());
  const auto* orders = md.find(cfg.orders_topic);
  REQUIRE(orders);
  for (const auto& p : orders->partitions) {
    CHECK(p.replicas.size() == 3);
    CHECK(p.isr.size() == 3);
  }
  auto conf = run(io, admin.describe_topic_config(cfg.orders_topic));
  CHECK(conf["min.insync.replicas"].value == "2");
  CHECK(conf["retention.ms"].value == "86400000");

  // The data survived the move: a fresh group reads all 30 messages.
  {
    kafka::consumer c(io, cfg, kafka::consumer_options{suffix + "-reader"});
    c.subscribe({cfg.orders_topic});
    auto got = run(io, consume(c, 30, 60s));
    CHECK(got.size() == 30);
    run(io, c.close(10s));
    CHECK_FALSE(run(io, admin.delete_group(suffix + "-reader")));
  }

  // Idempotent: already at 3 / 2.
  REQUIRE(topics(cfg, "fix", opts, out, err) == 0);
  CHECK(out.find("->") == std::string::npos);
  CHECK(out.find("nothing to do") != std::string::npos);

  CHECK_FALSE(run(io, admin.delete_group(group)));
  REQUIRE(topics(cfg, "delete", opts, out, err) == 0);
  CHECK(out.find("deleted " + cfg.orders_topic) != std::string::npos);
  REQUIRE(topics(cfg, "delete", opts, out, err) == 0);
  CHECK(out.find("absent  " + cfg.orders_topic) != std::string::npos);
  REQUIRE(topics(cfg, "describe", opts, out, err) == 0);
  CHECK(out.find("topic " + cfg.orders_topic + ": absent") != std::string::npos);
}

// Growing is what `kubectl scale` past the partition count needs. A group that committed on the
// old partitions must still read what lands on the new ones from their start (a consumer that
// began at "latest" would skip them, losing orders); shrinking is refused before anything changes.
TEST_CASE("kafka topics grow adds partitions and refuses to shrink while the group reads the new ones from the start", "[kafka]") {
  auto cfg = stack_config();
  const std::string suffix = unique("kg");
  cfg.orders_topic = suffix + "-orders";
  cfg.states_topic = suffix + "-state";
  cfg.dlq_topic = suffix + "-dlq";
  const std::string group = suffix + "-fraud";
  cleanup guard{cfg, {cfg.orders_topic, cfg.states_topic, cfg.dlq_topic}, {group}};
  kafka::topics_options opts;
  opts.group_names = {group};
  opts.partitions = 2;
  std::string out, err;

  asio::io_context io;
  kafka::admin admin(io, cfg);
  require_stack(io, admin);

  REQUIRE(topics(cfg, "init", opts, out, err) == 0);
  CHECK(out.find("created " + cfg.orders_topic + ": partitions 2, replication 1") != std::string::npos);
  CHECK(out.find("created " + cfg.dlq_topic + ": partitions 2, replication 3") != std::string::npos);

  // Before: 40 keyed messages on the 2 partitions, all consumed and committed by the group.
  auto produce = [&](const std::string& prefix, int n) {
    kafka::producer producer(io, cfg);  // a new producer: fresh metadata, so it sees every partition
    std::vector<std::string> keys;  // outgoing holds views: the strings live until the batch is sent
    for (int i = 0; i < n; ++i) keys.push_back(prefix + std::to_string(i));
    std::vector<kafka::outgoing> batch;
    for (const auto& k : keys) batch.push_back({cfg.orders_topic, kafka::unassigned_partition, k, k, {}});
    std::set<std::int32_t> partitions;
    for (const auto& r : run(io, producer.produce_batch(batch))) {
      REQUIRE(r.ok());
      partitions.insert(r.partition);
    }
    return partitions;
  };
  CHECK(produce("before-", 40) == std::set<std::int32_t>{0, 1});
  auto consume_commit = [&](std::size_t n) {
    kafka::consumer c(io, cfg, kafka::consumer_options{group});
    c.subscribe({cfg.orders_topic});
    auto got = run(io, consume(c, n, 60s));
    std::map<std::int32_t, std::int64_t> next;
    for (const auto& m : got) next[m.partition] = std::max(next[m.partition], m.offset + 1);
    std::vector<kafka::consumer::offset> offs;
    for (const auto& [p, o] : next) offs.push_back({cfg.orders_topic, p, o});
    CHECK_FALSE(run(io, c.commit(offs)));
    run(io, c.close(10s));
    return got;
  };
  REQUIRE(consume_commit(40).size() == 40);

  // init with more partitions than exist only points at grow.
  opts.partitions = 4;
  REQUIRE(topics(cfg, "init", opts, out, err) == 0);
  CHECK(out.find("wants 4 partitions: run `pokeflow topics grow --partitions 4`") != std::string::npos);

  REQUIRE(topics(cfg, "grow", opts, out, err) == 0);
  for (const auto& name : {cfg.orders_topic, cfg.states_topic, cfg.dlq_topic})
    CHECK(out.find("grew " + name + ": partitions 2 -> 4") != std::string::npos);
  // grow waited for the new leaders; the broker this client asks may learn of them a moment later.
  auto md = run(io, admin.describe_cluster());
  auto all_four = [&] {
    for (const auto& name : {cfg.orders_topic, cfg.states_topic, cfg.dlq_topic})
      if (!md.find(name) || md.find(name)->partitions.size() != 4) return false;
    return true;
  };
  for (int i = 0; i < 40 && !all_four(); ++i) {
    std::this_thread::sleep_for(250ms);
    md = run(io, admin.describe_cluster());
  }
  for (const auto& name : {cfg.orders_topic, cfg.states_topic, cfg.dlq_topic}) {
    const auto* t = md.find(name);
    REQUIRE(t);
    CHECK(t->partitions.size() == 4);
    for (const auto& p : t->partitions) CHECK_FALSE(p.offline());
  }
  // Replication and min.insync.replicas of the new partitions follow the topic's.
  for (const auto& p : md.find(cfg.states_topic)->partitions) CHECK(p.replicas.size() == 3);

  // Idempotent at the same count (a hook runs it on every upgrade); a smaller count is refused.
  REQUIRE(topics(cfg, "grow", opts, out, err) == 0);
  CHECK(out.find("already 4 partitions, nothing to do") != std::string::npos);
  CHECK(out.find("grew") == std::string::npos);
  opts.partitions = 3;
  CHECK(topics(cfg, "grow", opts, out, err) == 1);
  CHECK(err.find("--partitions 3 is not larger than the 4 partitions " + cfg.orders_topic + " has") !=
        std::string::npos);
  md = run(io, admin.describe_cluster());
  CHECK(md.find(cfg.orders_topic)->partitions.size() == 4);
  opts.partitions = 0;
  CHECK(topics(cfg, "grow", opts, out, err) == 2);
  CHECK(err.find("--partitions 0 is out of range") != std::string::npos);
  opts.partitions = 4;

  // After: keys now spread over 4 partitions; the group (committed on 0 and 1 only) reads every
  // new message, those on partitions 2 and 3 from their very first offset.
  auto after = produce("after-", 60);
  CHECK(after.count(2));
  CHECK(after.count(3));
  auto got = consume_commit(60);
  CHECK(got.size() == 60);
  std::set<std::string> keys;
  for (const auto& m : got) keys.insert(m.key.value_or(""));
  CHECK(keys.size() == 60);
  CHECK(keys.count("before-0") == 0);  // nothing re-read: the old partitions resumed at their commits

  // grow needs the topics to exist.
  REQUIRE(topics(cfg, "delete", opts, out, err) == 0);
  opts.partitions = 6;
  CHECK(topics(cfg, "grow", opts, out, err) == 1);
  CHECK(err.find("does not exist: run `pokeflow topics init --partitions 6`") != std::string::npos);
}

TEST_CASE("kafka topics against an unreachable cluster fails fast with one clear line", "[kafka]") {
  pokeflow::kafka_config cfg;
  cfg.brokers = "127.0.0.1:1";
  kafka::topics_options opts;
  opts.timeout = 3000ms;
  std::string out, err;
  auto start = std::chrono::steady_clock::now();
  CHECK(topics(cfg, "describe", opts, out, err) == 1);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK(err.find("no Kafka broker reachable at 127.0.0.1:1") != std::string::npos);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);

  CHECK(topics(cfg, "bogus", opts, out, err) == 2);
  opts.profile = "yolo";
  CHECK(topics(cfg, "init", opts, out, err) == 2);
  // fix refuses SASL/SSL up front instead of failing half-way.
  cfg = stack_config();
  cfg.properties["security.protocol"] = "SASL_SSL";
  opts.profile = "seed";
  CHECK(topics(cfg, "fix", opts, out, err) == 1);
  CHECK(err.find("PLAINTEXT only") != std::string::npos);
  CHECK(err.find("security.protocol=SASL_SSL") != std::string::npos);
}
