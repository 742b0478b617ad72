#include "core/cli.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "core/ini.hpp"
#include "core/text.hpp"

namespace pokeflow::core::cli {
namespace {

std::string trim(std::string_view s) { return std::string(text::trim(s)); }

std::string env_name(std::string_view long_name) {
  std::string out = "POKEFLOW_";
  for (char c : long_name) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::optional<std::string> prescan(int argc, const char* const* argv, std::string_view name) {
  std::string flag = "--" + std::string(name);
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == flag && i + 1 < argc) return std::string(argv[i + 1]);
    if (a.size() > flag.size() && a.substr(0, flag.size()) == flag && a[flag.size()] == '=')
      return std::string(a.substr(flag.size() + 1));
  }
  return std::nullopt;
}

bool has_arg(int argc, const char* const* argv, std::string_view a) {
  for (int i = 1; i < argc; ++i)
    if (argv[i] == a) return true;
  return false;
}

std::vector<role> parse_roles(const std::string& text) {
  std::vector<role> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    role r;
    if (item == "api") r = role::api;
    else if (item == "fraud") r = role::fraud;
    else if (item == "updater") r = role::updater;
    else if (item == "reverser") r = role::reverser;
    else if (item == "loadgen") r = role::loadgen;
    else throw CLI::ValidationError("--role", "unknown role '" + item + "' (expected api, fraud, updater, reverser, loadgen)");
    if (std::find(out.begin(), out.end(), r) != out.end())
      throw CLI::ValidationError("--role", "role '" + item + "' given twice");
    out.push_back(r);
  }
  if (out.empty()) throw CLI::ValidationError("--role", "empty role list");
  return out;
}

// Which option groups `--role=X --help` shows.
std::set<std::string> groups_for(const std::vector<role>& roles) {
  std::set<std::string> g{"Process"};
  for (auto r : roles) {
    switch (r) {
      case role::api: g.insert({"PostgreSQL", "Kafka", "api", "Auth"}); break;
      case role::fraud: g.insert({"Kafka", "fraud"}); break;
      case role::updater: g.insert({"Kafka", "updater", "Auth", "Client"}); break;
      case role::reverser: g.insert({"PostgreSQL", "reverser"}); break;
      case role::loadgen: g.insert({"loadgen", "Client"}); break;
    }
  }
  return g;
}

std::string format_ms(std::chrono::milliseconds ms) {
  auto v = ms.count();
  if (v % 3600000 == 0 && v) return std::to_string(v / 3600000) + "h";
  if (v % 60000 == 0 && v) return std::to_string(v / 60000) + "m";
  if (v % 1000 == 0) return std::to_string(v / 1000) + "s";
  return std::to_string(v) + "ms";
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
  auto s = trim(text);
  if (s.empty()) throw std::invalid_argument("empty duration");
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  auto number = s.substr(0, i);
  auto unit = s.substr(i);
  if (number.empty() || std::count(number.begin(), number.end(), '.') > 1)
    throw std::invalid_argument("'" + s + "' is not a duration (use e.g. 250ms, 2s, 30m, 1h)");
  double v = std::stod(number);
  double factor;
  if (unit.empty() || unit == "s") factor = 1000;
  else if (unit == "ms") factor = 1;
  else if (unit == "m") factor = 60000;
  else if (unit == "h") factor = 3600000;
  else throw std::invalid_argument("'" + s + "' has an unknown unit (use ms, s, m or h)");
  double ms = v * factor;
  if (!std::isfinite(ms) || ms > 1e12) throw std::invalid_argument("'" + s + "' is too large");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

parsed parse(int argc, const char* const* argv) {
  parsed result;
  app_config& c = result.config;
  CLI::App app{"pokeflow: a Kafka order pipeline built to be broken on purpose.\n"
               "Runs one or more roles (--role=api,fraud,...) or an admin subcommand."};
  app.name("pokeflow");
  app.set_version_flag("--version", std::string("pokeflow ") + POKEFLOW_VERSION);
  app.fallthrough();
  app.set_help_all_flag("--help-all", "Show every option of every role");
  app.option_defaults()->always_capture_default();

  std::vector<CLI::Option*> all;
  auto reg = [&](CLI::Option* o, const char* group) {
    o->group(group)->envname(env_name(o->get_single_name()))->run_callback_for_default();
    all.push_back(o);
    return o;
  };
  auto duration_on = [&](CLI::App& on, const std::string& name, std::chrono::milliseconds& target,
                         const std::string& help, const char* group) {
    auto* o = on.add_option_function<std::string>(
        name,
        [&target, name](const std::string& v) {
          try {
            target = parse_duration(v);
          } catch (const std::exception& e) {
            throw CLI::ValidationError(name, e.what());
          }
        },
        help);
    o->default_str(format_ms(target));
    return reg(o, group);
  };
  auto duration = [&](const std::string& name, std::chrono::milliseconds& target, const std::string& help,
                      const char* group) { return duration_on(app, name, target, help, group); };

  // Process
  std::string roles_text;
  reg(app.add_option("--role", roles_text, "Roles to run: comma list of api, fraud, updater, reverser, loadgen"),
      "Process");
  std::string config_path;
  reg(app.add_option("--config", config_path, "Config file of name = value lines (see config/pokeflow.ini)"),
      "Process");
  std::string level_text = "info";
  reg(app.add_option("--log-level", level_text, "Log level")->check(CLI::IsMember({"debug", "info", "warn", "error"})),
      "Process");
  reg(app.add_option("--admin-host", c.admin.host, "Admin listener address (/healthz, /readyz, /metrics)"), "Process");
  reg(app.add_option("--admin-port", c.admin.port, "Admin listener port, 0 disables it"), "Process");
  duration("--shutdown-timeout", c.shutdown_timeout, "How long SIGTERM may drain before a hard stop", "Process");

  // PostgreSQL
  reg(app.add_option("--pg-host", c.pg.host, "PostgreSQL host"), "PostgreSQL");
  reg(app.add_option("--pg-port", c.pg.port, "PostgreSQL port")->check(CLI::Range(1, 65535)), "PostgreSQL");
  reg(app.add_option("--pg-database", c.pg.database, "PostgreSQL database"), "PostgreSQL");
  reg(app.add_option("--pg-user", c.pg.user, "PostgreSQL user"), "PostgreSQL");
  reg(app.add_option("--pg-password", c.pg.password, "PostgreSQL password"), "PostgreSQL");
  reg(app.add_option("--pg-pool-size", c.pg.pool_size, "Connections per role")->check(CLI::Range(1, 256)),
      "PostgreSQL");
  duration("--pg-connect-timeout", c.pg.connect_timeout, "PostgreSQL connect timeout", "PostgreSQL");
  duration("--pg-query-timeout", c.pg.query_timeout,
           "Bound on each statement (server statement_timeout + client deadline that drops the connection); 0 = none",
           "PostgreSQL");

  // Kafka
  reg(app.add_option("--kafka-brokers", c.kafka.brokers, "Kafka bootstrap servers"), "Kafka");
  std::vector<std::string> kafka_props;
  reg(app.add_option("--kafka-property", kafka_props,
                     "librdkafka property KEY=VALUE, repeatable (env/file: k1=v1;k2=v2)")
          ->delimiter(';'),
      "Kafka");
  reg(app.add_option("--orders-topic", c.kafka.orders_topic, "Topic of new orders"), "Kafka");
  reg(app.add_option("--states-topic", c.kafka.states_topic, "Topic of fraud decisions"), "Kafka");
  reg(app.add_option("--dlq-topic", c.kafka.dlq_topic, "Dead-letter topic for poison messages"), "Kafka");
  duration("--kafka-linger", result.config.kafka.linger,
           "Producers wait this long to fill a request with more messages (librdkafka linger.ms)", "Kafka");
  duration("--kafka-commit-interval", result.config.kafka.commit_interval,
           "Consumers commit finished offsets at least this often; 0 = after every batch", "Kafka");
  reg(app.add_option("--kafka-commit-every", result.config.kafka.commit_every,
                     "Consumers also commit once this many messages finished since the last commit")
          ->check(CLI::Range(1, 1000000)),
      "Kafka");

  // api
  reg(app.add_option("--api-host", c.api.host, "API listen address"), "api");
  reg(app.add_option("--api-port", c.api.port, "API listen port")->check(CLI::Range(1, 65535)), "api");
  reg(app.add_option("--api-max-body", c.api.max_body_bytes, "Largest request body in bytes (413 above)")
          ->check(CLI::Range(64, 64 * 1024 * 1024)),
      "api");
  reg(app.add_option("--api-max-connections", c.api.max_connections, "Concurrent connection limit")
          ->check(CLI::Range(1, 100000)),
      "api");
  reg(app.add_option("--api-max-connections-per-client", c.api.max_connections_per_client,
                     "Concurrent connections one client address (IPv4, IPv6 /64) may hold; 503 above")
          ->check(CLI::Range(1, 100000)),
      "api");
  duration("--api-idle-timeout", c.api.idle_timeout, "Close idle keep-alive connections after", "api");
  duration("--api-request-timeout", c.api.request_timeout, "Time a client has to send a whole request", "api");
  duration("--api-deadline", c.api.deadline, "Bound on handling one request, database included (503 + Retry-After past it)",
           "api");
  reg(app.add_option("--api-migrate", c.api.migrate_on_start, "Run migrations at start (true/false)"), "api");
  reg(app.add_option("--relay-batch", c.api.relay_batch, "Outbox rows published per relay round")
          ->check(CLI::Range(1, 10000)),
      "api");
  duration("--relay-interval", c.api.relay_interval, "Outbox poll interval when idle", "api");

  // Auth (api + updater)
  std::string token = c.api.token;
  reg(app.add_option("--api-token", token, "Bearer token for PUT /orders/{id} and DELETE /orders"), "Auth");

  // Client (updater + loadgen)
  std::string api_url = c.updater.api_url;
  reg(app.add_option("--api-url", api_url, "Base URL of the api role"), "Client");

  // fraud
  reg(app.add_option("--fraud-group", c.fraud.group, "Consumer group of the fraud role"), "fraud");
  reg(app.add_option("--fraud-rules", c.fraud.rules_file, "Fraud rules file"), "fraud");

  // updater
  reg(app.add_option("--updater-group", c.updater.group, "Consumer group of the updater role"), "updater");
  reg(app.add_option("--updater-concurrency", result.config.updater.concurrency,
                     "Decisions applied at once (PUTs in flight); one order's stay in order")
          ->check(CLI::Range(1, 256)),
      "updater");
  reg(app.add_option("--updater-window", result.config.updater.window,
                     "Messages consumed ahead of the committed offset, at most")
          ->check(CLI::Range(1, 100000)),
      "updater");

  // reverser
  duration("--reverser-interval", c.reverser.interval, "How often to look for stale pending orders", "reverser");
  duration("--reverser-timeout", c.reverser.pending_timeout, "T: pending longer than this becomes reversed",
           "reverser");
  reg(app.add_option("--reverser-batch", c.reverser.batch, "Orders reversed (and at most re-driven) per round")
          ->check(CLI::Range(1, 100000)),
      "reverser");
  duration("--redrive-after", c.reverser.redrive_after,
           "Re-publish the event of an order pending this long with no decision, through the outbox "
           "(0, or not below --reverser-timeout: off)",
           "reverser");

  // loadgen
  reg(app.add_option("--users", c.loadgen.users, "Closed model: users in parallel")->check(CLI::Range(1, 10000)),
      "loadgen");
  reg(app.add_option("--orders-per-user", c.loadgen.orders_per_user, "Closed model: orders each user places")
          ->check(CLI::Range(1, 100000000)),
      "loadgen");
  duration("--delay", c.loadgen.delay, "Closed model: pause between one user's orders", "loadgen");
  reg(app.add_option("--user-ids", c.loadgen.user_ids, "Closed model: user ids (comma list)")->delimiter(','),
      "loadgen");
  duration("--initial-delay", c.loadgen.initial_delay, "Wait before the first order", "loadgen");
  reg(app.add_option("--rate", c.loadgen.rate, "Open model: orders per second (> 0 selects it)")
          ->check(CLI::Range(0.0, 1e6)),
      "loadgen");
  duration("--duration", c.loadgen.duration, "Open model: how long to run", "loadgen");
  reg(app.add_option("--connections", c.loadgen.connections, "HTTP connections")->check(CLI::Range(1, 10000)),
      "loadgen");
  reg(app.add_option("--ledger", c.loadgen.ledger, "Write acknowledged orders to this CSV file"), "loadgen");
  reg(app.add_option("--summary-json", c.loadgen.summary_json, "Write the JSON summary to this file"), "loadgen");
  reg(app.add_option("--pokemon-file", c.loadgen.pokemon_file, "Pokémon names, one per line"), "loadgen");
  reg(app.add_option("--countries-file", c.loadgen.countries_file, "Countries, one per line"), "loadgen");

  // Subcommands
  auto* migrate = app.add_subcommand("migrate", "Create or upgrade the PostgreSQL schema");
  auto* topics = app.add_subcommand("topics", "Create, grow, fix, describe or delete the Kafka topics");
  reg(topics->add_option("verb", result.topics.verb, "init | grow | fix | describe | delete")
          ->required()
          ->check(CLI::IsMember({"init", "grow", "fix", "describe", "delete"})),
      "topics");
  reg(topics->add_option("--partitions", result.topics.partitions,
                         "init: partitions per topic (default 3); grow: raise every topic to this many")
          ->check(CLI::Range(1, 10000)),
      "topics");
  reg(topics->add_option("--profile", result.topics.profile,
                         "init: seed (poke-orders replication 1, as the original) or safe (all replication 3)")
          ->check(CLI::IsMember({"seed", "safe"})),
      "topics");
  reg(topics->add_flag("--groups", result.topics.groups, "describe: also show consumer group lag"), "topics");
  auto* verify = app.add_subcommand("verify", "Check that every acknowledged order was finalized correctly");
  reg(verify->add_option("--ledger", result.verify.ledger, "Ledger CSV written by the loadgen role"), "verify");
  reg(verify->add_option("--since", result.verify.since, "Or: orders created at or after this timestamp"), "verify");
  reg(verify->add_option("--until", result.verify.until, "  ... and before this timestamp"), "verify");
  duration_on(*verify, "--deadline", result.verify.deadline,
              "Time an order may take from acknowledgement to a terminal state", "verify");
  duration_on(*verify, "--wait", result.verify.wait, "Keep re-checking pending orders this long before judging",
              "verify");
  reg(verify->add_option("--json", result.verify.json, "Also write the JSON summary to this file"), "verify");
  app.require_subcommand(0, 1);

  try {
    // --role X --help shows only what roles X read.
    if (has_arg(argc, argv, "--help") || has_arg(argc, argv, "-h")) {
      auto r = prescan(argc, argv, "role");
      if (!r) {
        if (const char* e = std::getenv("POKEFLOW_ROLE")) r = e;
      }
      if (r) {
        auto keep = groups_for(parse_roles(*r));
        for (auto* o : all)
          if (o->get_group() != "topics" && o->get_group() != "verify" && !keep.count(o->get_group())) o->group("");
      }
    }
    // The config file supplies defaults, so environment and flags still win over it.
    auto cfg_path = prescan(argc, argv, "config");
    if (!cfg_path) {
      if (const char* e = std::getenv("POKEFLOW_CONFIG"); e && *e) cfg_path = e;
    }
    if (cfg_path) {
      for (const auto& line : text::parse_file(*cfg_path, "config file", ini::parse)) {
        CLI::Option* o = app.get_option_no_throw("--" + line.key);
        if (!o) {
          for (auto* sub : {topics, verify})
            if ((o = sub->get_option_no_throw("--" + line.key))) break;
        }
        if (!o || line.key == "config")
          throw std::runtime_error("config file " + *cfg_path + " line " + std::to_string(line.line) +
                                   ": unknown option '" + line.key + "'");
        try {
          o->default_val(line.value);
        } catch (const CLI::Error& e) {
          throw std::runtime_error("config file " + *cfg_path + " line " + std::to_string(line.line) + ": " +
                                   e.what());
        }
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    result.exit_code = app.exit(e);
    return result;
  } catch (const CLI::CallForAllHelp& e) {
    result.exit_code = app.exit(e);
    return result;
  } catch (const CLI::CallForVersion& e) {
    result.exit_code = app.exit(e);
    return result;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    std::cerr << "pokeflow: " << msg << "\n";
    result.exit_code = 2;
    return result;
  }

  auto fail = [&](const std::string& msg) {
    std::cerr << "pokeflow: " << msg << "\n";
    result.cmd = command::exit;
    result.exit_code = 2;
    return result;
  };

  c.log.level = level_text == "debug"  ? log_level::debug
                : level_text == "warn" ? log_level::warn
                : level_text == "error" ? log_level::error
                                       : log_level::info;
  c.api.token = token;
  c.updater.token = token;
  c.updater.api_url = api_url;
  c.loadgen.api_url = api_url;
  c.api.dashboard_groups = {c.fraud.group, c.updater.group};
  for (const auto& p : kafka_props) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail("--kafka-property: '" + p + "' is not KEY=VALUE");
    c.kafka.properties[trim(p.substr(0, eq))] = trim(p.substr(eq + 1));
  }
  if (token.empty()) return fail("--api-token: must not be empty");
  if (api_url.rfind("http://", 0) != 0) return fail("--api-url: '" + api_url + "' must start with http://");
  if (c.loadgen.user_ids.empty()) return fail("--user-ids: at least one user id is needed");
  if (c.reverser.interval.count() <= 0) return fail("--reverser-interval: must be positive");
  if (c.api.deadline.count() <= 0) return fail("--api-deadline: must be positive");
  if (result.config.kafka.linger.count() > 900000) return fail("--kafka-linger: at most 900s (librdkafka's bound)");
  if (result.config.updater.window < result.config.updater.concurrency)
    return fail("--updater-window: must be at least --updater-concurrency");
  if (c.pg.query_timeout.count() < 0) return fail("--pg-query-timeout: must not be negative");
  if (c.reverser.pending_timeout.count() <= 0) return fail("--reverser-timeout: must be positive");

  if (migrate->parsed()) {
    result.cmd = command::migrate;
  } else if (topics->parsed()) {
    const auto& verb = result.topics.verb;
    if (verb == "grow" && result.topics.partitions == 0)
      return fail("topics grow: --partitions N is required (the new partition count of every topic)");
    if (verb != "init" && verb != "grow" && result.topics.partitions != 0)
      return fail("topics " + verb + ": --partitions applies to init and grow only");
    result.cmd = command::topics;
  } else if (verify->parsed()) {
    if (result.verify.ledger.empty() && result.verify.since.empty())
      return fail("verify: give --ledger FILE or --since TIMESTAMP");
    result.cmd = command::verify;
  } else {
    if (roles_text.empty())
      return fail("--role is required (api, fraud, updater, reverser, loadgen; a comma list runs several), "
                  "or a subcommand: migrate, topics, verify");
    try {
      c.roles = parse_roles(roles_text);
    } catch (const CLI::Error& e) {
      return fail(e.what());
    }
    result.cmd = command::roles;
  }
  return result;
}

}  // namespace pokeflow::core::cli
