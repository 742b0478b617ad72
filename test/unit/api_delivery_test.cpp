// The api's at-least-once decisions (roles/api/delivery.hpp): which result row answers which
// request of a group-commit batch, when a failed batch is split, what the relay deletes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <vector>

#include "roles/api/delivery.hpp"

using namespace pokeflow::roles::api;
namespace pg = pokeflow::core::pg;
using ords = std::vector<std::int64_t>;

TEST_CASE("batch rows map to requests by their ordinal, not by row order", "[api][delivery]") {
  SECTION("in order") {
    auto m = map_batch_rows(ords{1, 2, 3}, 3);
    CHECK(m.problems.empty());
    CHECK(m.row_of == std::vector<std::optional<int>>{0, 1, 2});
  }
  SECTION("rows in any order (ids need not follow the array)") {
    auto m = map_batch_rows(ords{3, 1, 2}, 3);
    CHECK(m.problems.empty());
    CHECK(m.row_of == std::vector<std::optional<int>>{1, 2, 0});
  }
  SECTION("a single order") {
    auto m = map_batch_rows(ords{1}, 1);
    CHECK(m.problems.empty());
    CHECK(m.row_of == std::vector<std::optional<int>>{0});
  }
  SECTION("no rows for an empty batch") {
    auto m = map_batch_rows(ords{}, 0);
    CHECK(m.problems.empty());
    CHECK(m.row_of.empty());
  }
}

TEST_CASE("batch rows: gaps, duplicates and strangers never answer the wrong request", "[api][delivery]") {
  SECTION("a missing ordinal leaves only that request without a row") {
    auto m = map_batch_rows(ords{1, 3}, 3);
    CHECK(m.row_of == std::vector<std::optional<int>>{0, std::nullopt, 1});
    REQUIRE(m.problems.size() == 1);
    CHECK(m.problems[0].find("ordinal 2") != std::string::npos);
  }
  SECTION("no rows at all: every request is unanswered") {
    auto m = map_batch_rows(ords{}, 2);
    CHECK(m.row_of == std::vector<std::optional<int>>{std::nullopt, std::nullopt});
    CHECK(m.problems.size() == 2);
  }
  SECTION("an ordinal named twice answers neither copy: which id is its own is unknown") {
    auto m = map_batch_rows(ords{1, 2, 2}, 2);
    CHECK(m.row_of == std::vector<std::optional<int>>{0, std::nullopt});
    REQUIRE(m.problems.size() == 1);
    CHECK(m.problems[0].find("named by 2 rows") != std::string::npos);
  }
  SECTION("ordinals out of range (0, negative, past the batch) are ignored and reported") {
    auto m = map_batch_rows(ords{0, -1, 4, 2, 1}, 2);
    CHECK(m.row_of == std::vector<std::optional<int>>{4, 3});
    CHECK(m.problems.size() == 3);
  }
  SECTION("more rows than requests, each ordinal valid once, still maps the ones it can") {
    auto m = map_batch_rows(ords{2, 1, 3}, 2);
    CHECK(m.row_of == std::vector<std::optional<int>>{1, 0});
    CHECK(m.problems.size() == 1);
  }
}

TEST_CASE("a failed batch is split one by one only for non-transient failures", "[api][delivery]") {
  using k = pg::error_kind;
  for (auto kind : {k::constraint, k::invalid, k::other}) {
    CHECK(retry_one_by_one(kind, 2));
    CHECK(retry_one_by_one(kind, 256));
    CHECK_FALSE(retry_one_by_one(kind, 1));  // alone, it is already the guilty one
    CHECK_FALSE(retry_one_by_one(kind, 0));
  }
  // Every order would fail alike: answer them all (503) and let the clients retry.
  for (auto kind : {k::connection, k::shutdown, k::timeout, k::conflict, k::resources, k::none})
    CHECK_FALSE(retry_one_by_one(kind, 10));
}

TEST_CASE("the relay deletes exactly what Kafka acknowledged", "[api][delivery]") {
  using ids = std::vector<std::int64_t>;
  SECTION("all acknowledged") {
    auto s = settle_relay_round(ids{10, 11, 12}, {true, true, true});
    CHECK(s.delete_ids == ids{10, 11, 12});
    CHECK(s.failed == 0);
  }
  SECTION("partial failure: only the acknowledged ones go, the rest stay for the next round") {
    auto s = settle_relay_round(ids{10, 11, 12, 13}, {true, false, true, false});
    CHECK(s.delete_ids == ids{10, 12});
    CHECK(s.failed == 2);
  }
  SECTION("nothing acknowledged: nothing deleted") {
    auto s = settle_relay_round(ids{10, 11}, {false, false});
    CHECK(s.delete_ids.empty());
    CHECK(s.failed == 2);
  }
  SECTION("fewer delivery reports than messages: the unreported ones are not acknowledged") {
    auto s = settle_relay_round(ids{10, 11, 12}, {true});
    CHECK(s.delete_ids == ids{10});
    CHECK(s.failed == 2);
  }
  SECTION("more reports than messages: the extra reports delete nothing") {
    auto s = settle_relay_round(ids{10}, {true, true, true});
    CHECK(s.delete_ids == ids{10});
    CHECK(s.failed == 0);
  }
  SECTION("an id listed twice is deleted once if any copy was acknowledged") {
    auto s = settle_relay_round(ids{10, 10, 11}, {false, true, false});
    CHECK(s.delete_ids == ids{10});
    CHECK(s.failed == 1);
  }
  SECTION("an empty round") {
    auto s = settle_relay_round(ids{}, {});
    CHECK(s.delete_ids.empty());
    CHECK(s.failed == 0);
  }
}

TEST_CASE("transition batches: no row for a request is its 404, not a problem", "[api][delivery]") {
  auto m = map_batch_rows(ords{3, 1}, 3, true);
  CHECK(m.problems.empty());
  CHECK(m.row_of == std::vector<std::optional<int>>{1, std::nullopt, 0});
  SECTION("a request named twice is still a problem (garbage, not a 404)") {
    auto d = map_batch_rows(ords{1, 1}, 2, true);
    CHECK(d.row_of == std::vector<std::optional<int>>{std::nullopt, std::nullopt});
    CHECK(d.problems.size() == 1);
  }
}

TEST_CASE("transition batches never hold one order twice, nor one a batch in flight holds", "[api][delivery]") {
  using ids = std::vector<std::int64_t>;
  using picks = std::vector<std::size_t>;
  SECTION("distinct ids all go, in queue order") {
    CHECK(pick_distinct(ids{5, 6, 7}, {}, 10) == picks{0, 1, 2});
  }
  SECTION("a repeated id waits for the next batch; the ones after it still go") {
    CHECK(pick_distinct(ids{5, 6, 5, 7, 6}, {}, 10) == picks{0, 1, 3});
  }
  SECTION("ids in another flusher's batch wait") {
    CHECK(pick_distinct(ids{5, 6, 7}, {6}, 10) == picks{0, 2});
    CHECK(pick_distinct(ids{6, 6}, {6}, 10).empty());
  }
  SECTION("the batch bound holds") {
    CHECK(pick_distinct(ids{1, 2, 3, 4}, {}, 2) == picks{0, 1});
    CHECK(pick_distinct(ids{1, 1, 2, 3}, {}, 2) == picks{0, 2});
  }
  SECTION("an empty queue picks nothing") {
    CHECK(pick_distinct(ids{}, {}, 10).empty());
  }
}

TEST_CASE("a batched transition's row says 200, 409, 404 or run it again", "[api][delivery]") {
  using s = pokeflow::order_state;
  CHECK(judge_transition(false, false, s::pending, s::success) == transition_verdict::not_found);
  CHECK(judge_transition(true, true, s::success, s::success) == transition_verdict::applied);
  CHECK(judge_transition(true, false, s::success, s::success) == transition_verdict::unchanged);
  CHECK(judge_transition(true, false, s::rejected, s::success) == transition_verdict::conflict);
  CHECK(judge_transition(true, false, s::reversed, s::failed) == transition_verdict::conflict);
  // Read pending, not moved: a concurrent writer committed after the statement's snapshot.
  CHECK(judge_transition(true, false, s::pending, s::success) == transition_verdict::stale);
  CHECK(judge_transition(true, false, s::pending, s::pending) == transition_verdict::stale);
}
