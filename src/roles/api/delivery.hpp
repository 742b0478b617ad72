#pragma once
// The api's at-least-once decisions as pure functions (no I/O, no Asio), so their edge cases
// are unit-tested: which result row belongs to which waiting request of a group-commit batch
// (creations and guarded transitions), which queued transitions may share a batch, when a
// failed batch is retried request by request, and which outbox rows a relay round may delete.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/pg/result.hpp"
#include "pokeflow/order.hpp"

namespace pokeflow::roles::api {

// The rows of one group-commit INSERT mapped back to the requests that asked for them.
struct batch_mapping {
  // Per request (by position in the batch): the index of its result row, or nullopt when the
  // result names it never, more than once, or the batch returned garbage for it.
  std::vector<std::optional<int>> row_of;
  // One line per anomaly (an ordinal out of range, repeated, or missing): any entry means
  // the statement did not return what it promises and is worth an error log.
  std::vector<std::string> problems;
};

// `ordinals[row]` is the 1-based position in the batch that result row says it belongs to
// (the statement's WITH ORDINALITY column); `requests` is the batch's size. Mapping is by
// that explicit ordinal only, never by row order or id order. A request named by two rows
// gets no row: which id is its own cannot be known. With `absence_is_an_answer` (a guarded
// transition: no row means no such order) a request without a row is not a problem.
batch_mapping map_batch_rows(std::span<const std::int64_t> ordinals, std::size_t requests,
                             bool absence_is_an_answer = false);

// Which queued transition requests go into the next batch: at most `max`, in queue order,
// skipping any whose order id is already taken by an earlier pick or by a batch in flight
// (`busy`). Two requests for one order never share a statement (an UPDATE ... FROM with two
// input rows for one row applies an arbitrary one), and two concurrent batches never touch
// one row (so they cannot deadlock on each other); the skipped ones wait for a later batch.
// Returns positions in `queued_ids`, ascending.
std::vector<std::size_t> pick_distinct(std::span<const std::int64_t> queued_ids, const std::set<std::int64_t>& busy,
                                       std::size_t max);

// What one request of a batched guarded transition gets, from its row (if any).
enum class transition_verdict {
  applied,    // this statement moved the order: 200
  unchanged,  // already in the requested state (a redelivery): 200
  conflict,   // terminal in another state: 409
  not_found,  // no such order: 404
  stale,      // the row still read pending but the guarded UPDATE did not move it: a concurrent
              // writer committed meanwhile; run the request again (it then sees the new state)
};
// `found`: the batch returned a row for the request; `applied`: that row's applied flag;
// `current`: the row's state; `target`: the requested state.
transition_verdict judge_transition(bool found, bool applied, order_state current, order_state target) noexcept;

// A batch that failed for a reason that does not go away on retry (a value PostgreSQL
// refuses, a constraint) may have failed because of one order: write its orders one by one so
// only the guilty one fails. Transient failures (connection, timeout, ...) fail the whole
// batch: every order would fail alike, and the clients retry.
bool retry_one_by_one(core::pg::error_kind failure, std::size_t batch_size) noexcept;

// What one relay round may delete from the outbox.
struct relay_settlement {
  std::vector<std::int64_t> delete_ids;  // acknowledged by Kafka: published, each once
  std::size_t failed = 0;                // not acknowledged (or no result): stay, go out again
};

// `ids[i]` was produced as message i; `acknowledged[i]` says whether Kafka acknowledged it. A
// missing result counts as not acknowledged; an id listed twice is deleted once if any of
// its copies was acknowledged (it was published at least once).
relay_settlement settle_relay_round(std::span<const std::int64_t> ids, const std::vector<bool>& acknowledged);

}  // namespace pokeflow::roles::api
