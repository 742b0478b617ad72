#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/cli.hpp"

using namespace pokeflow;
using pokeflow::core::cli::command;

namespace {
struct argv_builder {
  std::vector<std::string> args;
  std::vector<const char*> ptrs;
  explicit argv_builder(std::initializer_list<std::string> a) : args{"pokeflow"} {
    args.insert(args.end(), a);
    for (auto& s : args) ptrs.push_back(s.c_str());
  }
  core::cli::parsed parse() { return core::cli::parse(static_cast<int>(ptrs.size()), ptrs.data()); }
};

struct env_guard {
  std::string name;
  env_guard(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
  ~env_guard() { unsetenv(name.c_str()); }
};

std::string write_temp(const std::string& content) {
  char path[] = "/tmp/pokeflow-cli-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << content;
  return path;
}
}  // namespace

TEST_CASE("durations parse with units and bare seconds", "[cli]") {
  using namespace std::chrono_literals;
  CHECK(core::cli::parse_duration("250ms") == 250ms);
  CHECK(core::cli::parse_duration("2s") == 2000ms);
  CHECK(core::cli::parse_duration("1.5") == 1500ms);
  CHECK(core::cli::parse_duration("30m") == 1800000ms);
  CHECK(core::cli::parse_duration("1h") == 3600000ms);
  CHECK_THROWS(core::cli::parse_duration("soon"));
  CHECK_THROWS(core::cli::parse_duration("5 parsecs"));
  CHECK_THROWS(core::cli::parse_duration("-1s"));
  CHECK_THROWS(core::cli::parse_duration(""));
}

TEST_CASE("defaults point at the local stack", "[cli]") {
  auto p = argv_builder{"--role=api"}.parse();
  REQUIRE(p.cmd == command::roles);
  CHECK(p.config.roles == std::vector<role>{role::api});
  CHECK(p.config.pg.port == 55432);
  CHECK(p.config.pg.database == "poke_orders");
  CHECK(p.config.api.port == 8000);
  CHECK(p.config.kafka.brokers == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094");
  CHECK(p.config.reverser.pending_timeout == std::chrono::minutes(30));
}

TEST_CASE("the Kafka clients' batching knobs parse, with their defaults and bounds", "[cli]") {
  using namespace std::chrono_literals;
  auto d = argv_builder{"--role=updater"}.parse();
  REQUIRE(d.cmd == command::roles);
  CHECK(d.config.kafka.linger == 5ms);
  CHECK(d.config.kafka.commit_interval == 500ms);
  CHECK(d.config.kafka.commit_every == 1000);
  CHECK(d.config.updater.concurrency == 16);
  CHECK(d.config.updater.window == 1000);
  auto p = argv_builder{"--role=updater", "--kafka-linger=20ms", "--kafka-commit-interval=0", "--kafka-commit-every=50",
                        "--updater-concurrency=4", "--updater-window=8"}
               .parse();
  REQUIRE(p.cmd == command::roles);
  CHECK(p.config.kafka.linger == 20ms);
  CHECK(p.config.kafka.commit_interval == 0ms);
  CHECK(p.config.kafka.commit_every == 50);
  CHECK(p.config.updater.concurrency == 4);
  CHECK(p.config.updater.window == 8);
  CHECK(argv_builder{"--role=updater", "--updater-concurrency=32", "--updater-window=8"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=fraud", "--kafka-commit-every=0"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=api", "--kafka-linger=1h"}.parse().exit_code == 2);
}

TEST_CASE("a comma list runs several roles", "[cli]") {
  auto p = argv_builder{"--role", "api,fraud, updater,reverser"}.parse();
  REQUIRE(p.cmd == command::roles);
  CHECK(p.config.roles.size() == 4);
}

TEST_CASE("bad options and values exit 2", "[cli]") {
  CHECK(argv_builder{"--role=wizard"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=api,api"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=api", "--pg-port=notaport"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=api", "--pg-port=70000"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=api", "--no-such-flag"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=reverser", "--reverser-interval=often"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=api", "--kafka-property=novalue"}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=updater", "--api-url=https://x"}.parse().exit_code == 2);
  CHECK(argv_builder{}.parse().exit_code == 2);  // no role, no subcommand
  auto p = argv_builder{"--role=api", "--log-level=loud"}.parse();
  CHECK(p.cmd == command::exit);
  CHECK(p.exit_code == 2);
}

TEST_CASE("help and version exit 0", "[cli]") {
  CHECK(argv_builder{"--help"}.parse().exit_code == 0);
  CHECK(argv_builder{"--role=fraud", "--help"}.parse().exit_code == 0);
  CHECK(argv_builder{"--version"}.parse().exit_code == 0);
}

TEST_CASE("precedence is flag over environment over file over default", "[cli]") {
  auto file = write_temp("# comment\npg-host = from-file\npg-port = 6000\napi-port = 8100\n"
                         "reverser-timeout = 90s\nkafka-property = a=1;b=2\n");
  SECTION("file over default") {
    auto p = argv_builder{"--role=api", "--config", file}.parse();
    REQUIRE(p.cmd == command::roles);
    CHECK(p.config.pg.host == "from-file");
    CHECK(p.config.pg.port == 6000);
    CHECK(p.config.reverser.pending_timeout == std::chrono::seconds(90));
    CHECK(p.config.kafka.properties.at("a") == "1");
    CHECK(p.config.kafka.properties.at("b") == "2");
  }
  SECTION("environment over file") {
    env_guard g("POKEFLOW_PG_HOST", "from-env");
    env_guard g2("POKEFLOW_REVERSER_TIMEOUT", "5s");
    auto p = argv_builder{"--role=api", "--config=" + file}.parse();
    REQUIRE(p.cmd == command::roles);
    CHECK(p.config.pg.host == "from-env");
    CHECK(p.config.pg.port == 6000);
    CHECK(p.config.reverser.pending_timeout == std::chrono::seconds(5));
  }
  SECTION("flag over environment") {
    env_guard g("POKEFLOW_PG_HOST", "from-env");
    auto p = argv_builder{"--role=api", "--config", file, "--pg-host=from-flag"}.parse();
    REQUIRE(p.cmd == command::roles);
    CHECK(p.config.pg.host == "from-flag");
  }
  SECTION("config path from the environment") {
    env_guard g("POKEFLOW_CONFIG", file.c_str());
    auto p = argv_builder{"--role=api"}.parse();
    CHECK(p.config.api.port == 8100);
  }
  SECTION("role from the environment") {
    env_guard g("POKEFLOW_ROLE", "fraud,updater");
    auto p = argv_builder{}.parse();
    REQUIRE(p.cmd == command::roles);
    CHECK(p.config.roles == std::vector<role>{role::fraud, role::updater});
  }
  std::remove(file.c_str());
}

TEST_CASE("a bad config file is a clear error", "[cli]") {
  auto unknown = write_temp("pg-hots = typo\n");
  CHECK(argv_builder{"--role=api", "--config", unknown}.parse().exit_code == 2);
  auto bad_value = write_temp("pg-port = many\n");
  CHECK(argv_builder{"--role=api", "--config", bad_value}.parse().exit_code == 2);
  auto no_eq = write_temp("pg-port\n");
  CHECK(argv_builder{"--role=api", "--config", no_eq}.parse().exit_code == 2);
  CHECK(argv_builder{"--role=api", "--config", "/nonexistent/pokeflow.ini"}.parse().exit_code == 2);
  std::remove(unknown.c_str());
  std::remove(bad_value.c_str());
  std::remove(no_eq.c_str());
}

TEST_CASE("the shipped config file parses and matches the defaults", "[cli]") {
  auto p = argv_builder{"--role=api", "--config", POKEFLOW_SOURCE_DIR "/config/pokeflow.ini"}.parse();
  REQUIRE(p.cmd == command::roles);
  CHECK(p.config.pg.port == 55432);
}

TEST_CASE("subcommands", "[cli]") {
  auto t = argv_builder{"topics", "init", "--profile=safe"}.parse();
  REQUIRE(t.cmd == command::topics);
  CHECK(t.topics.verb == "init");
  CHECK(t.topics.profile == "safe");
  CHECK(argv_builder{"topics", "explode"}.parse().exit_code == 2);
  CHECK(argv_builder{"topics", "init", "--profile=yolo"}.parse().exit_code == 2);
  CHECK(t.topics.partitions == 0);  // main() turns "not given" into the default 3
  auto six = argv_builder{"topics", "init", "--partitions=6"}.parse();
  REQUIRE(six.cmd == command::topics);
  CHECK(six.topics.partitions == 6);
  auto grow = argv_builder{"topics", "grow", "--partitions", "12"}.parse();
  REQUIRE(grow.cmd == command::topics);
  CHECK(grow.topics.verb == "grow");
  CHECK(grow.topics.partitions == 12);
  CHECK(argv_builder{"topics", "grow"}.parse().exit_code == 2);  // the new count is required
  CHECK(argv_builder{"topics", "grow", "--partitions=0"}.parse().exit_code == 2);
  CHECK(argv_builder{"topics", "init", "--partitions=-3"}.parse().exit_code == 2);
  CHECK(argv_builder{"topics", "init", "--partitions=many"}.parse().exit_code == 2);
  CHECK(argv_builder{"topics", "describe", "--partitions=6"}.parse().exit_code == 2);
  auto d = argv_builder{"topics", "describe", "--groups", "--kafka-brokers=127.0.0.1:1"}.parse();
  REQUIRE(d.cmd == command::topics);
  CHECK(d.topics.groups);
  CHECK(d.config.kafka.brokers == "127.0.0.1:1");
  CHECK(argv_builder{"migrate"}.parse().cmd == command::migrate);
  CHECK(argv_builder{"verify"}.parse().exit_code == 2);  // needs --ledger or --since
  auto v = argv_builder{"verify", "--ledger", "x.csv", "--deadline", "2m"}.parse();
  REQUIRE(v.cmd == command::verify);
  CHECK(v.verify.deadline == std::chrono::minutes(2));
}

TEST_CASE("cli: --redrive-after default 60s, settable by flag, environment and file, 0 turns it off", "[cli]") {
  CHECK(argv_builder{"--role=reverser"}.parse().config.reverser.redrive_after == std::chrono::seconds(60));
  CHECK(argv_builder{"--role=reverser", "--redrive-after=90s"}.parse().config.reverser.redrive_after ==
        std::chrono::seconds(90));
  CHECK(argv_builder{"--role=reverser", "--redrive-after=0"}.parse().config.reverser.redrive_after.count() == 0);
  {
    env_guard g("POKEFLOW_REDRIVE_AFTER", "2m");
    CHECK(argv_builder{"--role=reverser"}.parse().config.reverser.redrive_after == std::chrono::minutes(2));
  }
  auto file = write_temp("redrive-after = 45s\n");
  CHECK(argv_builder{"--role=reverser", "--config", file}.parse().config.reverser.redrive_after ==
        std::chrono::seconds(45));
  std::remove(file.c_str());
  CHECK(argv_builder{"--role=reverser", "--redrive-after=soon"}.parse().exit_code == 2);
}
