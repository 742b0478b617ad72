// loadgen against the real pipeline (api, fraud, updater, reverser as separate processes on
// private topics), then `pokeflow verify` on its ledger: the "nothing lost" loop.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "harness.hpp"

using namespace pokeflow::test;
using namespace std::chrono_literals;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void require_pipeline_ready(pipeline& p) {
  for (auto r : {"api", "fraud", "updater", "reverser"}) {
    INFO(r << " log:\n" << p.procs.at(r)->log());
    REQUIRE(p.wait_ready(r, 60s));
  }
}

// Runs the loadgen role to completion; returns its exit status and the JSON summary.
std::pair<int, std::string> run_loadgen(pipeline& p, std::vector<std::string> args, const std::string& tag) {
  auto summary = "/tmp/pokeflow-loadgen-it-" + std::to_string(::getpid()) + "-" + tag + ".json";
  std::vector<std::string> all{"--role=loadgen", "--admin-port=0",
                               "--api-url=http://127.0.0.1:" + std::to_string(p.api_port),
                               "--pokemon-file=" + source_dir() + "/config/pokemon.txt",
                               "--countries-file=" + source_dir() + "/config/countries.txt",
                               "--summary-json=" + summary};
  all.insert(all.end(), args.begin(), args.end());
  process lg(all);
  auto status = lg.wait(120s);
  INFO(lg.log());
  REQUIRE(status.has_value());
  auto json = slurp(summary);
  std::remove(summary.c_str());
  return {*status, json};
}
}  // namespace

TEST_CASE("loadgen at a fixed rate against the pipeline, then verify passes", "[loadgen][pipeline]") {
  pipeline p;
  require_pipeline_ready(p);
  auto ledger = "/tmp/pokeflow-loadgen-it-" + std::to_string(::getpid()) + ".csv";
  auto [status, json] = run_loadgen(p, {"--rate=50", "--duration=4s", "--ledger=" + ledger}, "open");
  INFO(json);
  REQUIRE(status == 0);
  REQUIRE(json_field(json, "planned") == "200");
  REQUIRE(json_field(json, "acknowledged") == "200");
  REQUIRE(json_field(json, "error_count") == "0");
  REQUIRE(std::stod(json_field(json, "achieved_rate").value()) > 40);

  auto v = sh(pokeflow_binary() + " verify --ledger " + ledger + " --fraud-rules " + source_dir() +
              "/config/fraud-rules.ini --deadline 60s --wait 60s 2>/dev/null");
  INFO(v.out);
  REQUIRE(v.status == 0);
  REQUIRE(json_field(v.out, "acknowledged") == "200");
  REQUIRE(json_field(v.out, "terminal") == "200");
  REQUIRE(json_field(v.out, "violations") == "0");
  std::remove(ledger.c_str());
}

TEST_CASE("loadgen's closed model (the seed's shape, scaled down) and user 5 rejected", "[loadgen][pipeline]") {
  pipeline p;
  require_pipeline_ready(p);
  auto ledger = "/tmp/pokeflow-loadgen-it-" + std::to_string(::getpid()) + "-closed.csv";
  auto [status, json] = run_loadgen(
      p, {"--users=5", "--orders-per-user=4", "--delay=100ms", "--user-ids=1,2,3,4,5", "--ledger=" + ledger}, "closed");
  INFO(json);
  REQUIRE(status == 0);
  REQUIRE(json_field(json, "acknowledged") == "20");
  auto user5 = psql_int("CREATE TEMP TABLE l (order_id bigint, user_id bigint, pokemon text, country text, "
                        "price float8, intended_us bigint, sent_us bigint, acked_us bigint); "
                        "\\copy l FROM '" + ledger + "' CSV HEADER\n"
                        "SELECT count(*) FROM l WHERE user_id = 5");
  REQUIRE(user5 == 4);
  auto v = sh(pokeflow_binary() + " verify --ledger " + ledger + " --fraud-rules " + source_dir() +
              "/config/fraud-rules.ini --wait 60s 2>/dev/null");
  INFO(v.out);
  REQUIRE(v.status == 0);
  REQUIRE(std::stoll(json_field(v.out, "rejected").value()) >= 4);
  std::remove(ledger.c_str());
}

TEST_CASE("loadgen against an api that is down reports connect errors and exits 1", "[loadgen]") {
  process lg({"--role=loadgen", "--admin-port=0", "--api-url=http://127.0.0.1:1", "--rate=20", "--duration=1s",
              "--pokemon-file=" + source_dir() + "/config/pokemon.txt",
              "--countries-file=" + source_dir() + "/config/countries.txt"});
  auto status = lg.wait(30s);
  INFO(lg.log());
  REQUIRE(status == 1);
  REQUIRE_THAT(lg.log(), Catch::Contains("\"connect\":20"));
}
