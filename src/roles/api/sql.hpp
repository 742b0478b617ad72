#pragma once
// The SQL the api role issues, in one place so the benchmark's pgbench scripts can mirror it.
namespace pokeflow::roles::api::sql {

#define POKEFLOW_ORDER_TS "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define POKEFLOW_ORDER_COLUMNS "id, user_id, pokemon, country, price, state::text AS state, " POKEFLOW_ORDER_TS " AS ts"

// Group commit: the orders of every request waiting at that moment in one statement (one
// transaction, one WAL flush). Each input row carries its 1-based position in the batch (WITH
// ORDINALITY) and takes its id from the sequence before the INSERT, so every returned row
// says explicitly which request it answers (`ord`); nothing relies on ids following array
// order. The CTE is read twice, so PostgreSQL materializes it: nextval runs once per row.
// The order and its outbox event commit together or not at all. $1..$4 arrays, $5 topic.
// (bench/pgbench/order.sql writes it out for one order.)
inline constexpr const char* create_orders =
    "WITH input AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('poke_orders', 'id')) AS id, t.* "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) "
    "WITH ORDINALITY AS t(user_id, pokemon, country, price, ord)), "
    "o AS (INSERT INTO poke_orders (id, user_id, pokemon, country, price) "
    "SELECT id, user_id, pokemon, country, price FROM input RETURNING " POKEFLOW_ORDER_COLUMNS "), "
    "ob AS (INSERT INTO poke_outbox (order_id, topic, payload) "
    "SELECT id, $5, json_build_object('id', id, 'user_id', user_id, 'pokemon', pokemon, 'country', country, "
    "'price', price, 'state', state, 'timestamp', ts)::text FROM o ORDER BY id) "
    "SELECT input.ord, o.* FROM o JOIN input USING (id) ORDER BY input.ord";

inline constexpr const char* get_order = "SELECT " POKEFLOW_ORDER_COLUMNS " FROM poke_orders WHERE id = $1";

// $1 state or NULL, $2 skip, $3 limit.
inline constexpr const char* list_orders =
    "SELECT " POKEFLOW_ORDER_COLUMNS " FROM poke_orders WHERE ($1::order_state IS NULL OR state = $1::order_state) "
    "ORDER BY id OFFSET $2 LIMIT $3";

// Group commit of guarded transitions: every PUT waiting at that moment in one statement (one
// transaction, one WAL flush), each input row carrying its 1-based position (ord) so every
// returned row says which request it answers. `upd` moves the pending ones (the same guarded
// UPDATE, so the history trigger records each move as before); `seen` reports the current row
// of the others; the two counter updates bump redeliveries (already in the requested terminal
// state) and conflicts (terminal in another) without touching `state`, so the trigger does not
// fire. The batcher never puts one order twice in a batch, so no row is updated twice. A
// request without a row names no order (404). $1 ids, $2 target states.
#define POKEFLOW_ORDER_FIELDS "id, user_id, pokemon, country, price, state, ts"
inline constexpr const char* transition_batch =
    "WITH input AS MATERIALIZED (SELECT t.tid, t.target, t.ord "
    "FROM unnest($1::bigint[], $2::order_state[]) WITH ORDINALITY AS t(tid, target, ord)), "
    "upd AS (UPDATE poke_orders SET state = input.target, updated_at = clock_timestamp() FROM input "
    "WHERE id = input.tid AND state = 'pending' RETURNING input.ord, " POKEFLOW_ORDER_COLUMNS "), "
    "seen AS (SELECT input.ord, " POKEFLOW_ORDER_COLUMNS " FROM poke_orders JOIN input ON id = input.tid "
    "WHERE input.ord NOT IN (SELECT ord FROM upd)), "
    "redelivered AS (UPDATE poke_orders SET redeliveries = redeliveries + 1 FROM input "
    "WHERE id = input.tid AND state <> 'pending' AND state = input.target), "
    "conflicted AS (UPDATE poke_orders SET conflicts = conflicts + 1 FROM input "
    "WHERE id = input.tid AND state <> 'pending' AND state <> input.target) "
    "SELECT ord, true AS applied, " POKEFLOW_ORDER_FIELDS " FROM upd "
    "UNION ALL SELECT ord, false, " POKEFLOW_ORDER_FIELDS " FROM seen ORDER BY ord";

inline constexpr const char* delete_all =
    "WITH d AS (DELETE FROM poke_orders RETURNING id), ob AS (DELETE FROM poke_outbox) SELECT count(*) AS n FROM d";

// Relay: claim a batch no other replica holds.
inline constexpr const char* claim_outbox =
    "SELECT id, order_id, topic, payload FROM poke_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED";
inline constexpr const char* delete_outbox = "DELETE FROM poke_outbox WHERE id = ANY($1::bigint[])";
// The outbox gauges without counting rows (a count(*) reads every live and dead row of a table
// that churns 300 rows a second, and a backlog of 100 000 every second): three index probes on
// the primary key. The backlog is the span of ids still there (exact while the relay deletes
// from the front, an upper bound while a failed row sits behind published ones); the oldest age
// is that of the lowest id, the oldest row to within the few milliseconds by which concurrent
// batches' ids and clock times may disagree.
inline constexpr const char* outbox_stats =
    "SELECT COALESCE(b.hi - b.lo + 1, 0) AS n, COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - b.oldest), 0) AS age "
    "FROM (SELECT (SELECT id FROM poke_outbox ORDER BY id LIMIT 1) AS lo, "
    "(SELECT id FROM poke_outbox ORDER BY id DESC LIMIT 1) AS hi, "
    "(SELECT created_at FROM poke_outbox ORDER BY id LIMIT 1) AS oldest) b";

}  // namespace pokeflow::roles::api::sql
