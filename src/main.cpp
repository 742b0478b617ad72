// pokeflow: parse options, build the chosen roles, run them, turn the outcome into an exit code.
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <system_error>

#include "core/cli.hpp"
#include "core/http/admin.hpp"
#include "core/kafka/topics.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/pg/migrate.hpp"
#include "core/process_metrics.hpp"
#include "core/runtime.hpp"
#include "pokeflow/errors.hpp"
#include "roles/api/api.hpp"
#include "roles/fraud/fraud.hpp"
#include "roles/loadgen/loadgen.hpp"
#include "roles/reverser/reverser.hpp"
#include "roles/updater/updater.hpp"
#include "roles/verify/verify.hpp"

using namespace pokeflow;

namespace {

int run_migrate(const pg_config& pg) {
  auto out = core::pg::migrate_blocking(pg);
  if (!out.status) {
    std::cerr << "pokeflow: migrate failed (" << pg.host << ":" << pg.port << "): " << out.status.message() << "\n";
    return 1;
  }
  std::cout << "schema at version " << out.version << " (" << out.applied.size() << " migration(s) applied now)\n";
  return 0;
}

int run_roles(const app_config& cfg) {
  core::metrics::registry metrics;
  core::register_process_metrics(metrics);
  core::runtime rt(cfg.shutdown_timeout, metrics);

  std::shared_ptr<core::http::admin_server> admin;
  if (cfg.admin.port != 0) {
    admin = std::make_shared<core::http::admin_server>(rt.io(), metrics);
    admin->listen(cfg.admin.host, cfg.admin.port);
    // Red while a supervised task is down (restarting or failed) and once a stop began.
    admin->add_readiness("tasks", [&rt]() -> boost::asio::awaitable<std::optional<std::string>> {
      if (rt.stopping()) co_return std::string("shutting down");
      co_return rt.tasks().problem();
    });
  }
  core::role_context ctx{rt.io(), metrics,
                         [admin](std::string name, core::readiness_check check) {
                           if (admin) admin->add_readiness(std::move(name), std::move(check));
                         },
                         [&rt](int code) { rt.request_stop(code); }, rt.tasks(),
                         core::log::logger()};  // each role gets a copy with its own name below
  // Stopped only after every role drained: /healthz and /metrics answer while roles drain.
  if (admin) rt.add_last(admin);
  std::string names;
  for (auto r : cfg.roles) {
    core::role_context rc = ctx;
    rc.log = core::log::logger(to_string(r));
    switch (r) {
      case role::api: rt.add(std::make_shared<roles::api::api>(rc, cfg.api, cfg.pg, cfg.kafka)); break;
      case role::fraud: rt.add(std::make_shared<roles::fraud::fraud>(rc, cfg.fraud, cfg.kafka)); break;
      case role::updater: rt.add(std::make_shared<roles::updater::updater>(rc, cfg.updater, cfg.kafka)); break;
      case role::reverser: rt.add(std::make_shared<roles::reverser::reverser>(rc, cfg.reverser, cfg.pg, cfg.kafka.orders_topic)); break;
      case role::loadgen: rt.add(std::make_shared<roles::loadgen::loadgen>(rc, cfg.loadgen)); break;
    }
    names += (names.empty() ? "" : ",") + std::string(to_string(r));
  }
  core::log::info("pokeflow starting", {{"version", POKEFLOW_VERSION},
                                        {"roles", names},
                                        {"admin_port", admin ? static_cast<int>(admin->port()) : 0}});
  return rt.run();
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = core::cli::parse(argc, argv);
  const auto& cfg = parsed.config;
  core::log::set_level(cfg.log.level);
  try {
    switch (parsed.cmd) {
      case core::cli::command::exit: return parsed.exit_code;
      case core::cli::command::migrate: return run_migrate(cfg.pg);
      case core::cli::command::topics: {
        core::kafka::topics_options opts;
        opts.profile = parsed.topics.profile;
        opts.groups = parsed.topics.groups;
        if (parsed.topics.partitions > 0) opts.partitions = parsed.topics.partitions;
        opts.group_names = {cfg.fraud.group, cfg.updater.group};
        return core::kafka::run_topics_command(cfg.kafka, parsed.topics.verb, opts);
      }
      case core::cli::command::verify: return roles::verify::run(cfg, parsed.verify);
      case core::cli::command::roles: return run_roles(cfg);
    }
  } catch (const config_error& e) {
    std::cerr << "pokeflow: " << e.what() << "\n";
    return 2;
  } catch (const std::system_error& e) {
    std::cerr << "pokeflow: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "pokeflow: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
