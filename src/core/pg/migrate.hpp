#pragma once
// Schema migrations: an ordered list of (version, sql), applied once each under a
// PostgreSQL advisory lock so concurrent api replicas (or `pokeflow migrate`) don't race.
#include <span>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/pg/pool.hpp"
#include "core/pg/result.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::core::pg {

struct migration {
  int version;
  std::string_view name;
  std::string_view sql;  // may hold several statements
};

// Ordered by version. Append new versions; never edit one that may have been applied.
std::span<const migration> migrations() noexcept;

// Key of the session advisory lock held while migrating ("pokeflow" in ASCII).
inline constexpr long long migration_lock_key = 0x706f6b65666c6f77LL;

struct migrate_outcome {
  result status;             // ok, or the first failure (with the version in the message)
  std::vector<int> applied;  // versions applied by this call, ascending
  int version = 0;           // schema version afterwards (highest applied)
};

// Takes the advisory lock, creates schema_migrations if needed, applies each pending
// version in its own transaction, releases the lock. Running it again, or from several
// processes at once, applies nothing twice. Failures are returned, not thrown.
boost::asio::awaitable<migrate_outcome> migrate(pool& p);

// The same on a private io_context and a one-connection pool, for the `pokeflow migrate`
// subcommand. Returns the outcome; throws only on programming errors.
migrate_outcome migrate_blocking(const pg_config& cfg);

}  // namespace pokeflow::core::pg
