-- One order through the pipeline's SQL, one statement (or transaction) at a time, exactly as
-- the roles issue them today: the naive one-order-per-transaction ceiling L_pg.
-- Mirrors src/roles/api/sql.hpp: when that file changes, change this one (docs/benchmark.md).
-- pgbench counts one run of this script as one order. (pgbench would read ':MI' inside the
-- timestamp format as a variable, hence chr(58) for the colons.)

\set user_id random(1, 5)
\set cents random(0, 30000)

-- api, POST /orders: sql::create_orders for a batch of one (the order and its outbox event in one statement)
WITH o AS (INSERT INTO poke_orders (user_id, pokemon, country, price) VALUES (:user_id, 'Pikachu', 'Chile', :cents / 100.0)
  RETURNING id, user_id, pokemon, country, price, state::text AS state,
            to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"') AS ts),
ob AS (INSERT INTO poke_outbox (order_id, topic, payload)
  SELECT id, 'poke-orders', json_build_object('id', id, 'user_id', user_id, 'pokemon', pokemon, 'country', country,
         'price', price, 'state', state, 'timestamp', ts)::text FROM o)
SELECT id AS order_id FROM o \gset

-- api, outbox relay: sql::claim_outbox + sql::delete_outbox in one transaction (batch of 1)
BEGIN;
-- (wrapped in array_agg so a momentarily empty claim, which the relay takes in its stride,
-- does not abort pgbench's \gset)
SELECT coalesce(array_agg(id), '{}') AS claimed FROM (
  SELECT id, order_id, topic, payload FROM poke_outbox ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) c \gset
DELETE FROM poke_outbox WHERE id = ANY(:claimed::bigint[]);
COMMIT;

-- api, PUT /orders/{id} from the updater: sql::transition (the guarded update)
WITH upd AS (UPDATE poke_orders SET state = 'success'::order_state, updated_at = clock_timestamp()
  WHERE id = :order_id AND state = 'pending'
  RETURNING id, user_id, pokemon, country, price, state::text AS state,
            to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"') AS ts)
SELECT true AS applied, * FROM upd
UNION ALL
SELECT false, id, user_id, pokemon, country, price, state::text AS state,
       to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"') AS ts
  FROM poke_orders WHERE id = :order_id AND NOT EXISTS (SELECT 1 FROM upd);
