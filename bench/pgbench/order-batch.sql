-- The pipeline's per-order SQL with 100 orders per statement: L_pg_batch, what this database
-- can do when every per-order cost the roles pay is batched (create group commit, relay batch,
-- grouped guarded transitions). pgbench counts one run as one transaction; bench/run.sh
-- multiplies by 100 to give orders/s. Mirrors src/roles/api/sql.hpp like order.sql does; the
-- 100 rows come from generate_series instead of parameter arrays (same plan shape: one INSERT
-- of N rows, one outbox INSERT of N rows). chr(58) is ':' (pgbench would read ':MI').

-- api, POST /orders: sql::create_orders for a batch of 100
WITH o AS (INSERT INTO poke_orders (user_id, pokemon, country, price)
  SELECT 1 + (random() * 4)::int, 'Pikachu', 'Chile', round((random() * 300)::numeric, 2)::float8
  FROM generate_series(1, 100)
  RETURNING id, user_id, pokemon, country, price, state::text AS state,
            to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"') AS ts),
ob AS (INSERT INTO poke_outbox (order_id, topic, payload)
  SELECT id, 'poke-orders', json_build_object('id', id, 'user_id', user_id, 'pokemon', pokemon, 'country', country,
         'price', price, 'state', state, 'timestamp', ts)::text FROM o)
SELECT array_agg(id) AS order_ids FROM o \gset

-- api, outbox relay: claim 100 + delete them in one transaction
BEGIN;
SELECT coalesce(array_agg(id), '{}') AS claimed FROM (
  SELECT id, order_id, topic, payload FROM poke_outbox ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) c \gset
DELETE FROM poke_outbox WHERE id = ANY(:claimed::bigint[]);
COMMIT;

-- api, PUT /orders/{id} x 100 group-committed: the guarded update for all of them at once,
-- answering each id with its row (applied or the current state)
WITH want AS (SELECT unnest(:order_ids::bigint[]) AS id),
upd AS (UPDATE poke_orders p SET state = 'success'::order_state, updated_at = clock_timestamp()
  FROM want WHERE p.id = want.id AND p.state = 'pending'
  RETURNING p.id, p.user_id, p.pokemon, p.country, p.price, p.state::text AS state,
            to_char(p."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"') AS ts)
SELECT true AS applied, * FROM upd
UNION ALL
SELECT false, p.id, p.user_id, p.pokemon, p.country, p.price, p.state::text AS state,
       to_char(p."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"') AS ts
  FROM poke_orders p JOIN want ON p.id = want.id WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.id = p.id);
