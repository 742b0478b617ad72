#pragma once
// The limits the orders API enforces, in one place: the JSON validator (src/core/json), the
// list query parser and the OpenAPI document (/openapi.json) all read these, and a unit test
// probes the validator at each documented bound, so document and behaviour cannot drift.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pokeflow::limits {

// Order fields (POST /orders, POST /create_order).
inline constexpr std::int64_t user_id_min = 0;
inline constexpr std::size_t name_min_length = 1;   // pokemon, country: not empty or blank
inline constexpr std::size_t name_max_length = 64;  // characters (code points)
inline constexpr double price_min = 0;
inline constexpr double price_max = 1'000'000;

// Every JSON document we read (HTTP bodies, Kafka messages) is strict: UTF-8 only (no
// overlong forms, no surrogates, not even as \u escapes), no duplicate keys, numbers that fit
// a double, and nesting at most this deep (an order is 1 level; checked before parsing, so no
// input can exhaust the stack).
inline constexpr std::size_t json_max_depth = 32;

// GET /orders, GET /list_orders.
inline constexpr std::int64_t list_skip_min = 0;
// OFFSET walks and drops every skipped row: without a bound one request (repeatable by
// anyone) scans the whole table. Deeper pages are not served by offset (422).
inline constexpr std::int64_t list_skip_max = 10'000;
inline constexpr std::int64_t list_limit_min = 1;
inline constexpr std::int64_t list_limit_max = 1000;
inline constexpr std::int64_t list_limit_default = 20;

// Every order state, and the ones a PUT may set (terminal states).
inline constexpr std::array<std::string_view, 5> states{"pending", "rejected", "failed", "success", "reversed"};
inline constexpr std::array<std::string_view, 4> terminal_states{"rejected", "failed", "success", "reversed"};

}  // namespace pokeflow::limits
