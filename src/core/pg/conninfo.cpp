// pg_config::conninfo() lives here because only src/core/pg knows libpq's syntax.
#include <cstdlib>
#include <algorithm>
#include <string>
#include <string_view>

#include "pokeflow/config.hpp"

namespace pokeflow {

namespace {

// libpq keyword/value syntax: single-quoted, with \ and ' backslash-escaped, so any
// password or host string survives intact.
void add(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += "='";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
}

}  // namespace

std::string pg_config::conninfo() const {
  std::string out;
  // Empty values are left out so libpq's own defaults (PGHOST, ~/.pgpass, ...) apply.
  if (!host.empty()) add(out, "host", host);
  add(out, "port", std::to_string(port));
  if (!database.empty()) add(out, "dbname", database);
  if (!user.empty()) add(out, "user", user);
  if (!password.empty()) add(out, "password", password);
  // libpq counts whole seconds (and treats 1 as 2); round up so a short timeout is not
  // turned into "no timeout" (0). Our async connect enforces the exact value itself.
  auto secs = (connect_timeout.count() + 999) / 1000;
  add(out, "connect_timeout", std::to_string(secs < 1 ? 1 : secs));
  add(out, "application_name", "pokeflow");
  // Notice a silently dead peer (network partition) in about half a minute instead of
  // the kernel's default two hours.
  add(out, "keepalives", "1");
  add(out, "keepalives_idle", "10");
  add(out, "keepalives_interval", "5");
  add(out, "keepalives_count", "3");
  // Data sent but not acknowledged for this long (a peer that vanished mid-query) ends the
  // connection, which keepalives alone do not cover while bytes are in flight.
  add(out, "tcp_user_timeout", "10000");
  // Server-side bounds: a statement the client stopped waiting for (see query_timeout) is
  // cancelled there too, and a transaction left idle (a client that died or was cut off in
  // the middle of one, e.g. the outbox relay's) gives back its locks.
  // An "options" keyword replaces libpq's PGOPTIONS, so what PGOPTIONS says (a search_path,
  // as the benchmark and operators use it) goes first and ours are added after it.
  if (query_timeout.count() > 0) {
    const char* env = std::getenv("PGOPTIONS");
    std::string opts = env && *env ? std::string(env) + " " : std::string();
    opts += "-c statement_timeout=" + std::to_string(query_timeout.count()) +
            " -c idle_in_transaction_session_timeout=" +
            std::to_string(std::max<long long>(30000, 4 * query_timeout.count()));
    add(out, "options", opts);
  }
  return out;
}

}  // namespace pokeflow
