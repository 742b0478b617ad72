#pragma once
// The order event's SQL shape, for every writer of an outbox row: the api's group commit and
// the reverser's re-drive publish byte-for-byte the same event, so fraud and the updater treat a
// re-driven order exactly like a redelivered one.
//
// POKEFLOW_SQL_ORDER_TS: an order's "timestamp" as the event and the API print it.
// POKEFLOW_SQL_ORDER_EVENT: the event payload (text), from a row source with the columns id,
// user_id, pokemon, country, price, state (text) and ts (POKEFLOW_SQL_ORDER_TS).
#define POKEFLOW_SQL_ORDER_TS "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define POKEFLOW_SQL_ORDER_EVENT                                                                     \
  "json_build_object('id', id, 'user_id', user_id, 'pokemon', pokemon, 'country', country, "        \
  "'price', price, 'state', state, 'timestamp', ts)::text"
