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

// Guarded transition: only a pending order moves. The second branch reports the current row
// when nothing was updated (terminal already, or a concurrent writer won).
// $1 id, $2 target state.
inline constexpr const char* transition =
    "WITH upd AS (UPDATE poke_orders SET state = $2::order_state, updated_at = clock_timestamp() "
    "WHERE id = $1 AND state = 'pending' RETURNING " POKEFLOW_ORDER_COLUMNS ") "
    "SELECT true AS applied, * FROM upd "
    "UNION ALL "
    "SELECT false, " POKEFLOW_ORDER_COLUMNS " FROM poke_orders WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM upd)";

inline constexpr const char* count_redelivery = "UPDATE poke_orders SET redeliveries = redeliveries + 1 WHERE id = $1";
inline constexpr const char* count_conflict = "UPDATE poke_orders SET conflicts = conflicts + 1 WHERE id = $1";

inline constexpr const char* delete_all =
    "WITH d AS (DELETE FROM poke_orders RETURNING id), ob AS (DELETE FROM poke_outbox) SELECT count(*) AS n FROM d";

// Relay: claim a batch no other replica holds.
inline constexpr const char* claim_outbox =
    "SELECT id, order_id, topic, payload FROM poke_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED";
inline constexpr const char* delete_outbox = "DELETE FROM poke_outbox WHERE id = ANY($1::bigint[])";
inline constexpr const char* outbox_stats =
    "SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0) AS age "
    "FROM poke_outbox";

}  // namespace pokeflow::roles::api::sql
