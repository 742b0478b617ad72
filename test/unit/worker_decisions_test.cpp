// The at-least-once decisions of the workers, as pure functions: what fraud commits after a
// batch, and what the updater makes of the api's answer.
#include <catch2/catch.hpp>

#include <vector>

#include "roles/fraud/commit.hpp"
#include "roles/updater/outcome.hpp"

using namespace pokeflow;
using pokeflow::core::kafka::topic_partition;
using pokeflow::roles::fraud::acknowledged_prefix;
using pokeflow::roles::fraud::commit_offset;
using pokeflow::roles::fraud::handled_message;
using pokeflow::roles::updater::outcome;
using pokeflow::roles::updater::outcome_of;

namespace {
const topic_partition p0{"poke-orders", 0};
const topic_partition p1{"poke-orders", 1};
const topic_partition p2{"poke-orders", 2};
}  // namespace

TEST_CASE("fraud commits the next offset after each partition's acknowledged run", "[fraud][commit]") {
  std::vector<handled_message> batch{{p0, 10, true}, {p1, 3, true}, {p0, 11, true}, {p1, 4, true}};
  CHECK(acknowledged_prefix(batch, {}) == std::vector<commit_offset>{{p0, 12}, {p1, 5}});
}

TEST_CASE("fraud never commits past an unacknowledged message", "[fraud][commit]") {
  SECTION("a failure in the middle blocks the rest of its partition only") {
    std::vector<handled_message> batch{{p0, 10, true}, {p0, 11, false}, {p0, 12, true}, {p1, 7, true}};
    CHECK(acknowledged_prefix(batch, {}) == std::vector<commit_offset>{{p0, 11}, {p1, 8}});
  }
  SECTION("a failure first: nothing for that partition") {
    std::vector<handled_message> batch{{p0, 10, false}, {p0, 11, true}, {p2, 0, true}};
    CHECK(acknowledged_prefix(batch, {}) == std::vector<commit_offset>{{p2, 1}});
  }
  SECTION("partial failures everywhere: nothing at all") {
    std::vector<handled_message> batch{{p0, 1, false}, {p1, 1, false}};
    CHECK(acknowledged_prefix(batch, {}).empty());
  }
  SECTION("an empty batch") { CHECK(acknowledged_prefix({}, {}).empty()); }
}

TEST_CASE("fraud's commit skips offset gaps the log itself has", "[fraud][commit]") {
  // Compaction or transaction markers leave holes in offsets; they are not unprocessed messages.
  std::vector<handled_message> batch{{p0, 10, true}, {p0, 15, true}, {p0, 40, true}};
  CHECK(acknowledged_prefix(batch, {}) == std::vector<commit_offset>{{p0, 41}});
}

TEST_CASE("fraud does not commit partitions revoked since the batch was fetched", "[fraud][commit]") {
  std::vector<handled_message> batch{{p0, 10, true}, {p1, 20, true}, {p2, 30, true}};
  CHECK(acknowledged_prefix(batch, {p1}) == std::vector<commit_offset>{{p0, 11}, {p2, 31}});
  CHECK(acknowledged_prefix(batch, {p0, p1, p2}).empty());
  // Same partition number of another topic is another partition.
  CHECK(acknowledged_prefix(batch, {{"poke-orders-state", 1}}).size() == 3);
}

TEST_CASE("fraud's commit never moves backwards on a repeated offset", "[fraud][commit]") {
  SECTION("a re-delivered copy after the original") {
    std::vector<handled_message> batch{{p0, 10, true}, {p0, 11, true}, {p0, 10, true}};
    CHECK(acknowledged_prefix(batch, {}) == std::vector<commit_offset>{{p0, 12}});
  }
  SECTION("the copy failed: the acknowledged original still counts, nothing after the copy") {
    std::vector<handled_message> batch{{p0, 10, true}, {p0, 10, false}, {p0, 11, true}};
    CHECK(acknowledged_prefix(batch, {}) == std::vector<commit_offset>{{p0, 11}});
  }
}

TEST_CASE("updater: the api's answer decides the message's fate", "[updater][outcome]") {
  CHECK(outcome_of(200) == outcome::done);
  CHECK(outcome_of(409) == outcome::done);  // already terminal: a duplicate or late decision
  CHECK(outcome_of(404) == outcome::dead_letter);
  CHECK(outcome_of(422) == outcome::dead_letter);
  CHECK(outcome_of(400) == outcome::dead_letter);
  CHECK(outcome_of(410) == outcome::dead_letter);
  // Not the message's fault, may pass later.
  CHECK(outcome_of(0) == outcome::retry);  // no answer at all
  CHECK(outcome_of(500) == outcome::retry);
  CHECK(outcome_of(502) == outcome::retry);
  CHECK(outcome_of(503) == outcome::retry);
  CHECK(outcome_of(504) == outcome::retry);
  CHECK(outcome_of(599) == outcome::retry);
  CHECK(outcome_of(408) == outcome::retry);
  CHECK(outcome_of(429) == outcome::retry);
  // Retrying cannot help: end the process instead of spinning.
  CHECK(outcome_of(401) == outcome::fatal);
  CHECK(outcome_of(403) == outcome::fatal);
  CHECK(outcome_of(415) == outcome::fatal);
  CHECK(outcome_of(405) == outcome::fatal);
  CHECK(outcome_of(201) == outcome::fatal);  // only 200 means applied
  CHECK(outcome_of(204) == outcome::fatal);
  CHECK(outcome_of(301) == outcome::fatal);
  CHECK(outcome_of(100) == outcome::fatal);
  CHECK(outcome_of(600) == outcome::fatal);
  CHECK(outcome_of(-1) == outcome::fatal);
  CHECK(std::string(to_string(outcome::fatal)) == "fatal");
}
