// The at-least-once decisions of the workers, as pure functions: what fraud commits after a
// batch, when offsets are committed, which decisions the updater may run at once, and what the
// updater makes of the api's answer.
#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "core/kafka/commit_plan.hpp"
#include "roles/updater/key_window.hpp"
#include "roles/updater/outcome.hpp"

using namespace pokeflow;
using pokeflow::core::kafka::topic_partition;
using pokeflow::core::kafka::acknowledged_prefix;
using pokeflow::core::kafka::commit_offset;
using pokeflow::core::kafka::handled_message;
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

// ---- commit pacing (core/kafka/commit_plan.hpp) ----------------------------------------------
using pokeflow::core::kafka::commit_pacer;

TEST_CASE("offsets are committed on an interval or every N messages, not per batch", "[kafka][commit]") {
  using namespace std::chrono_literals;
  const auto t0 = commit_pacer::clock::time_point{} + 1h;
  commit_pacer pacer(500ms, 100);
  CHECK_FALSE(pacer.due(t0));  // nothing waiting
  std::vector<commit_offset> a{{p0, 11}};
  pacer.record(a, 1, t0);
  CHECK_FALSE(pacer.due(t0 + 499ms));
  CHECK(pacer.due(t0 + 500ms));  // the oldest progress is old enough
  SECTION("an offset never moves back, and partitions merge") {
    std::vector<commit_offset> b{{p0, 9}, {p1, 4}};
    pacer.record(b, 2, t0 + 10ms);
    CHECK(pacer.take() == std::vector<commit_offset>{{p0, 11}, {p1, 4}});
    CHECK(pacer.empty());
    CHECK_FALSE(pacer.due(t0 + 1h));
  }
  SECTION("enough messages make it due before the interval") {
    std::vector<commit_offset> b{{p0, 120}};
    pacer.record(b, 99, t0 + 1ms);
    CHECK(pacer.due(t0 + 1ms));
  }
  SECTION("the interval counts from the oldest progress not committed, not the newest") {
    std::vector<commit_offset> b{{p0, 12}};
    pacer.record(b, 1, t0 + 400ms);
    CHECK(pacer.due(t0 + 500ms));
    pacer.take();
    pacer.record(b, 1, t0 + 600ms);
    CHECK_FALSE(pacer.due(t0 + 1000ms));
    CHECK(pacer.due(t0 + 1100ms));
  }
  SECTION("a revoked partition's progress is dropped (its commit would be refused)") {
    std::vector<commit_offset> b{{p1, 4}};
    pacer.record(b, 1, t0);
    std::vector<topic_partition> gone{p0};
    pacer.forget(gone);
    CHECK(pacer.take() == std::vector<commit_offset>{{p1, 4}});
    pacer.record(b, 1, t0);
    std::vector<topic_partition> all{p1};
    pacer.forget(all);
    CHECK(pacer.empty());
  }
}

TEST_CASE("interval 0 commits after every batch", "[kafka][commit]") {
  commit_pacer pacer(std::chrono::milliseconds(0), 1000);
  const auto t0 = commit_pacer::clock::now();
  std::vector<commit_offset> a{{p0, 1}};
  pacer.record(a, 1, t0);
  CHECK(pacer.due(t0));
}

// ---- the updater's key window (roles/updater/key_window.hpp) --------------------------------
using pokeflow::roles::updater::key_window;
using seqs = std::vector<key_window::seq_t>;

TEST_CASE("the updater applies different orders of one partition concurrently, one order in sequence",
          "[updater][window]") {
  key_window w(100, 10);
  auto a1 = w.admit(p0, 0, "1");
  auto b1 = w.admit(p0, 1, "2");
  auto a2 = w.admit(p0, 2, "1");  // order 1's second decision waits for its first
  auto c1 = w.admit(p1, 0, "3");
  CHECK(w.startable() == seqs{a1, b1, c1});
  CHECK(w.running() == 3);
  CHECK(w.startable().empty());
  // Order 2 finishes first: nothing committable in p0 yet (offset 0 still runs).
  w.finish(b1, true);
  CHECK(w.startable().empty());
  CHECK(w.release_prefix().empty());
  w.finish(a1, true);
  CHECK(w.startable() == seqs{a2});
  CHECK(w.release_prefix() == std::vector<commit_offset>{{p0, 2}});  // 0 and 1 done, 2 runs
  w.finish(c1, true);
  w.finish(a2, true);
  CHECK(w.release_prefix() == std::vector<commit_offset>{{p0, 3}, {p1, 1}});
  CHECK(w.tracked() == 0);
  CHECK(w.release_prefix().empty());
}

TEST_CASE("the updater's window bounds what runs and what is tracked", "[updater][window]") {
  key_window w(3, 2);
  auto a = w.admit(p0, 10, "1");
  auto b = w.admit(p0, 11, "2");
  auto c = w.admit(p0, 12, "3");
  CHECK(w.room() == 0);
  CHECK(w.startable() == seqs{a, b});  // two slots
  w.finish(b, true);
  CHECK(w.startable() == seqs{c});
  CHECK(w.release_prefix().empty());  // 10 still runs: 11 is done but not committable
  CHECK(w.room() == 0);               // done-but-held messages still count
  w.finish(a, true);
  CHECK(w.release_prefix() == std::vector<commit_offset>{{p0, 12}});
  CHECK(w.room() == 2);
}

TEST_CASE("the updater never commits past a decision that gave up, nor runs its order's next",
          "[updater][window]") {
  key_window w(100, 10);
  auto a1 = w.admit(p0, 0, "1");
  auto a2 = w.admit(p0, 1, "1");
  auto b1 = w.admit(p0, 2, "2");
  CHECK(w.startable() == seqs{a1, b1});
  w.finish(a1, false);  // stopping: not applied
  w.finish(b1, true);
  CHECK(w.startable().empty());  // a2 must not overtake a1
  CHECK(w.release_prefix().empty());
  (void)a2;
}

TEST_CASE("keyless messages keep partition order; keys are ordered per partition", "[updater][window]") {
  key_window w(100, 10);
  auto x = w.admit(p0, 0, "");
  auto y = w.admit(p0, 1, "");
  auto z = w.admit(p1, 0, "");
  CHECK(w.startable() == seqs{x, z});
  w.finish(x, true);
  CHECK(w.startable() == seqs{y});
}

TEST_CASE("a revoked partition's messages are dropped and a late result for them is ignored",
          "[updater][window]") {
  key_window w(100, 10);
  auto a = w.admit(p0, 0, "1");
  auto b = w.admit(p0, 1, "1");  // waits behind a
  auto c = w.admit(p1, 0, "2");
  CHECK(w.startable() == seqs{a, c});
  std::vector<topic_partition> gone{p0};
  CHECK(w.forget(gone) == seqs{b});  // b never started; a runs and comes back later
  CHECK(w.tracked() == 1);
  // The partition comes back and is re-read from the committed offset: a new ticket.
  auto a_again = w.admit(p0, 0, "1");
  w.finish(a, true);  // the old run's result: ignored, frees its slot
  CHECK(w.startable() == seqs{a_again});
  CHECK(w.release_prefix().empty());
  w.finish(a_again, true);
  w.finish(c, true);
  CHECK(w.release_prefix() == std::vector<commit_offset>{{p0, 1}, {p1, 1}});
}
