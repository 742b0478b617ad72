#include "core/kafka/topics.hpp"

#include <algorithm>
#include <cctype>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "core/kafka/admin.hpp"
#include "core/kafka/protocol.hpp"

namespace pokeflow::core::kafka {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr int target_replication = 3;
constexpr int target_min_isr = 2;
constexpr int max_partitions = 10000;
constexpr int err_topic_already_exists = 36;  // TOPIC_ALREADY_EXISTS
constexpr int err_unknown_topic = 3;          // UNKNOWN_TOPIC_OR_PART
constexpr int err_unknown_topic_id = 100;     // UNKNOWN_TOPIC_ID (newer brokers)

struct topic_spec {
  std::string name;
  int partitions;
  int replication;
  int min_isr;
};

std::string join(const std::vector<std::int32_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The raw reassignment client below speaks PLAINTEXT only.
std::optional<std::string> insecure_reason(const kafka_config& cfg) {
  for (const auto& [k, v] : cfg.properties) {
    if (k == "security.protocol" && lower(v) != "plaintext") return k + "=" + v;
    if (k.rfind("sasl.", 0) == 0 || k.rfind("ssl.", 0) == 0) return k;
  }
  return std::nullopt;
}

class command {
 public:
  command(asio::io_context& io, const kafka_config& cfg, const topics_options& opts, std::ostream& out,
          std::ostream& err)
      : io_(io), cfg_(cfg), opts_(opts), out_(out), err_(err),
        admin_(io, cfg, admin_options{"pokeflow-topics", opts.timeout, true}) {}

  asio::awaitable<int> run(std::string_view verb) {
    if (auto reason = co_await admin_.ping(opts_.timeout)) {
      err_ << "pokeflow topics " << verb << ": " << *reason << "\n";
      co_return 1;
    }
    if (verb == "init") co_return co_await init();
    if (verb == "grow") co_return co_await grow();
    if (verb == "describe") co_return co_await describe();
    if (verb == "fix") co_return co_await fix();
    if (verb == "delete") co_return co_await remove();
    co_return 2;  // unreachable: verb checked by the caller
  }

 private:
  std::vector<std::string> names() const { return {cfg_.orders_topic, cfg_.states_topic, cfg_.dlq_topic}; }

  std::vector<topic_spec> specs() const {
    const bool safe = opts_.profile == "safe";
    const int n = opts_.partitions;
    return {{cfg_.orders_topic, n, safe ? 3 : 1, safe ? 2 : 1},
            {cfg_.states_topic, n, 3, 2},
            {cfg_.dlq_topic, n, 3, 2}};
  }

  static bool present(const topic_info* t) {
    return t && t->error != err_unknown_topic && t->error != err_unknown_topic_id && !t->partitions.empty();
  }

  static int replication_of(const topic_info& t) {
    std::size_t r = 0;
    for (const auto& p : t.partitions) r = std::max(r, p.replicas.size());
    return static_cast<int>(r);
  }

  asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(io_, d);
    co_await t.async_wait(asio::use_awaitable);
  }

  asio::awaitable<std::string> min_isr_of(const std::string& topic) {
    auto cfg = co_await admin_.describe_topic_config(topic);
    auto it = cfg.find("min.insync.replicas");
    co_return it == cfg.end() ? std::string("?") : it->second.value;
  }

  // Waits until every listed topic is present (or absent) with a leader for each partition
  // and, if min_partitions is set, at least that many partitions.
  asio::awaitable<bool> wait_for(const std::vector<std::string>& topics, bool want_present,
                                 std::size_t min_partitions = 0) {
    const auto deadline = std::chrono::steady_clock::now() + opts_.timeout;
    for (;;) {
      auto md = co_await admin_.describe_cluster();
      bool ok = true;
      for (const auto& n : topics) {
        const topic_info* t = md.find(n);
        if (want_present) {
          ok = ok && present(t) && t->partitions.size() >= min_partitions &&
               std::all_of(t->partitions.begin(), t->partitions.end(),
                           [](const partition_info& p) { return !p.offline(); });
        } else {
          ok = ok && !present(t);
        }
      }
      if (ok) co_return true;
      if (std::chrono::steady_clock::now() >= deadline) co_return false;
      co_await sleep(250ms);
    }
  }

  asio::awaitable<int> init() {
    auto md = co_await admin_.describe_cluster();
    std::vector<new_topic> req;
    for (const auto& s : specs())
      req.push_back({s.name, s.partitions, s.replication,
                     {{"min.insync.replicas", std::to_string(s.min_isr)}}});
    auto results = co_await admin_.create_topics(req);
    // A topic created moments ago (by another init, or a test) can be known to the controller
    // and not yet to the broker that answered our metadata request: wait for it, so "exists"
    // always comes with its partitions, replication and min.insync.replicas.
    std::vector<std::string> unseen;
    for (const auto& r : results)
      if (r.error && r.error->code == err_topic_already_exists && !present(md.find(r.name))) unseen.push_back(r.name);
    if (!unseen.empty()) {
      co_await wait_for(unseen, true);
      md = co_await admin_.describe_cluster();
    }
    int rc = 0;
    std::vector<std::string> created;
    for (const auto& s : specs()) {
      auto it = std::find_if(results.begin(), results.end(), [&](const item_result& r) { return r.name == s.name; });
      if (it == results.end()) continue;
      if (!it->error) {
        out_ << "created " << s.name << ": partitions " << s.partitions << ", replication " << s.replication
             << ", min.insync.replicas " << s.min_isr << "\n";
        created.push_back(s.name);
      } else if (it->error->code == err_topic_already_exists) {
        const topic_info* t = md.find(s.name);
        out_ << "exists  " << s.name;
        if (present(t)) {
          int rf = replication_of(*t);
          out_ << ": partitions " << t->partitions.size() << ", replication " << rf << ", min.insync.replicas "
               << co_await min_isr_of(s.name);
          if (rf < s.replication) out_ << " (profile " << opts_.profile << " wants " << s.replication << ": run `pokeflow topics fix`)";
          if (static_cast<int>(t->partitions.size()) < s.partitions)
            out_ << " (wants " << s.partitions << " partitions: run `pokeflow topics grow --partitions " << s.partitions
                 << "`)";
        }
        out_ << "\n";
      } else {
        err_ << "pokeflow topics init: " << it->error->message << "\n";
        rc = 1;
      }
    }
    if (!created.empty() && !co_await wait_for(created, true)) {
      err_ << "pokeflow topics init: created topics have no leader yet after "
           << opts_.timeout.count() / 1000 << " s\n";
      rc = 1;
    }
    co_return rc;
  }

  // Raises every pipeline topic to opts_.partitions. Everything is checked before anything
  // changes, so a refused grow leaves the topics as they were.
  asio::awaitable<int> grow() {
    const int want = opts_.partitions;
    auto md = co_await admin_.describe_cluster();
    std::vector<std::pair<std::string, int>> plan;
    int rc = 0;
    for (const auto& name : names()) {
      const topic_info* t = md.find(name);
      if (!present(t)) {
        err_ << "pokeflow topics grow: topic " << name << " does not exist: run `pokeflow topics init --partitions "
             << want << "` instead\n";
        rc = 1;
        continue;
      }
      const int have = static_cast<int>(t->partitions.size());
      if (have > want) {
        err_ << "pokeflow topics grow: --partitions " << want << " is not larger than the " << have
             << " partitions " << name << " has (Kafka cannot remove partitions)\n";
        rc = 1;
      } else if (have == want) {
        out_ << name << ": already " << have << " partitions, nothing to do\n";
      } else {
        plan.emplace_back(name, have);
      }
    }
    if (rc) co_return rc;
    if (plan.empty()) co_return 0;
    std::vector<std::pair<std::string, int>> totals;
    for (const auto& [name, have] : plan) totals.emplace_back(name, want);
    auto results = co_await admin_.create_partitions(totals);
    std::vector<std::string> grown;
    for (const auto& [name, have] : plan) {
      auto it = std::find_if(results.begin(), results.end(), [&](const item_result& r) { return r.name == name; });
      if (it == results.end() || it->error) {
        err_ << "pokeflow topics grow: " << name << ": "
             << (it == results.end() ? std::string("no answer from the cluster") : it->error->message) << "\n";
        rc = 1;
        continue;
      }
      out_ << "grew " << name << ": partitions " << have << " -> " << want << "\n";
      grown.push_back(name);
    }
    if (!grown.empty() && !co_await wait_for(grown, true, static_cast<std::size_t>(want))) {
      err_ << "pokeflow topics grow: the new partitions have no leader yet after " << opts_.timeout.count() / 1000
           << " s\n";
      rc = 1;
    }
    if (!grown.empty())
      out_ << "note: order ids now hash to other partitions; producers and consumers pick the new partitions up at "
              "their next metadata refresh; consumers read them from the start (docs/decisions.md, \"Growing partitions\")\n";
    co_return rc;
  }

  asio::awaitable<int> describe() {
    auto md = co_await admin_.describe_cluster();
    out_ << "brokers: " << md.brokers.size();
    for (const auto& b : md.brokers) out_ << "  " << b.id << "=" << b.host << ":" << b.port;
    out_ << "\n";
    std::set<std::int32_t> live;
    for (const auto& b : md.brokers) live.insert(b.id);
    for (const auto& name : names()) {
      const topic_info* t = md.find(name);
      if (!present(t)) {
        out_ << "topic " << name << ": absent\n";
        continue;
      }
      out_ << "topic " << name << ": partitions " << t->partitions.size() << ", replication " << replication_of(*t)
           << ", min.insync.replicas " << co_await min_isr_of(name) << "\n";
      for (const auto& p : t->partitions) {
        out_ << "  partition " << p.id << "  leader " << p.leader << "  replicas " << join(p.replicas) << "  isr "
             << join(p.isr);
        if (p.offline()) out_ << "  OFFLINE";
        if (p.under_replicated()) out_ << "  UNDER-REPLICATED";
        out_ << "\n";
      }
    }
    if (opts_.groups) {
      std::map<std::string, std::string> states;
      for (const auto& g : co_await admin_.list_groups()) states[g.group] = g.state;
      for (const auto& g : opts_.group_names) {
        auto lags = co_await admin_.group_lag(g);
        auto st = states.find(g);
        out_ << "group " << g << " (" << (st == states.end() ? std::string("unknown") : st->second) << ")";
        if (lags.empty()) {
          out_ << ": no committed offsets\n";
          continue;
        }
        std::int64_t total = 0;
        for (const auto& l : lags) total += std::max<std::int64_t>(0, l.lag);
        out_ << ": total lag " << total << "\n";
        for (const auto& l : lags) {
          out_ << "  " << l.topic << "[" << l.partition << "]  committed "
               << (l.position >= 0 ? std::to_string(l.position) : std::string("none")) << "  end "
               << (l.high_watermark >= 0 ? std::to_string(l.high_watermark) : std::string("?")) << "  lag "
               << (l.lag >= 0 ? std::to_string(l.lag) : std::string("?")) << "\n";
        }
      }
    }
    co_return 0;
  }

  // Sends a frame to the first broker that answers.
  asio::awaitable<std::vector<std::uint8_t>> send(const cluster_metadata& md, std::vector<std::uint8_t> frame) {
    std::string last;
    for (const auto& b : md.brokers) {
      try {
        co_return co_await protocol::round_trip(b.host, b.port, frame, opts_.timeout);
      } catch (const std::exception& e) {
        last = b.host + ":" + std::to_string(b.port) + ": " + e.what();
      }
    }
    throw std::runtime_error("no broker answered the request (" + last + ")");
  }

  asio::awaitable<int> fix() {
    auto md = co_await admin_.describe_cluster();
    if (static_cast<int>(md.brokers.size()) < target_replication) {
      err_ << "pokeflow topics fix: replication " << target_replication << " needs " << target_replication
           << " brokers, the cluster has " << md.brokers.size() << "\n";
      co_return 1;
    }
    // Spread the new replicas over the least-loaded brokers; existing replicas stay first so
    // the preferred leader (and so the leader placement) does not move.
    std::map<std::int32_t, int> load;
    for (const auto& b : md.brokers) load[b.id] = 0;
    for (const auto& t : md.topics)
      for (const auto& p : t.partitions)
        for (auto r : p.replicas) ++load[r];

    std::vector<protocol::partition_reassignment> plan;
    std::vector<std::string> present_topics;
    for (const auto& name : names()) {
      const topic_info* t = md.find(name);
      if (!present(t)) {
        if (name == cfg_.orders_topic) {
          err_ << "pokeflow topics fix: topic " << name << " does not exist: run `pokeflow topics init` first\n";
          co_return 1;
        }
        out_ << name << ": absent, skipped\n";
        continue;
      }
      present_topics.push_back(name);
      for (const auto& p : t->partitions) {
        if (static_cast<int>(p.replicas.size()) >= target_replication) continue;
        std::vector<std::int32_t> target = p.replicas;
        while (static_cast<int>(target.size()) < target_replication) {
          std::int32_t best = -1;
          for (const auto& [id, n] : load)
            if (std::find(target.begin(), target.end(), id) == target.end() && (best < 0 || n < load[best]))
              best = id;
          target.push_back(best);
          ++load[best];
        }
        out_ << name << "[" << p.id << "]: replicas " << join(p.replicas) << " -> " << join(target) << "\n";
        plan.push_back({name, p.id, target});
      }
    }

    if (!plan.empty()) {
      auto frame = protocol::encode_alter_partition_reassignments(
          1, "pokeflow-topics", static_cast<std::int32_t>(opts_.timeout.count()), plan);
      auto resp = protocol::decode_alter_partition_reassignments(co_await send(md, std::move(frame)));
      if (resp.error_code) {
        err_ << "pokeflow topics fix: AlterPartitionReassignments failed: " << error_name(resp.error_code)
             << (resp.error_message.empty() ? "" : " (" + resp.error_message + ")") << "\n";
        co_return 1;
      }
      int failed = 0;
      for (const auto& pr : resp.partitions)
        if (pr.error_code) {
          err_ << "pokeflow topics fix: " << pr.topic << "[" << pr.partition << "]: " << error_name(pr.error_code)
               << (pr.error_message.empty() ? "" : " (" + pr.error_message + ")") << "\n";
          ++failed;
        }
      if (failed) co_return 1;
      out_ << "reassignment accepted for " << plan.size() << " partition(s); waiting for the new replicas to catch up\n";
      if (!co_await wait_reassigned(plan)) co_return 1;
    }

    for (const auto& name : present_topics) {
      std::string cur = co_await min_isr_of(name);
      if (cur == std::to_string(target_min_isr)) {
        out_ << name << ": replication " << target_replication << ", min.insync.replicas " << cur
             << (plan.empty() ? " (already, nothing to do)" : "") << "\n";
        continue;
      }
      std::map<std::string, std::string> change;
      change.emplace("min.insync.replicas", std::to_string(target_min_isr));
      co_await admin_.alter_topic_config(name, std::move(change));
      out_ << name << ": min.insync.replicas " << cur << " -> " << target_min_isr << "\n";
    }
    co_return 0;
  }

  // Polls until every planned partition has all its target replicas in the ISR and the
  // controller lists no ongoing reassignment for it.
  asio::awaitable<bool> wait_reassigned(const std::vector<protocol::partition_reassignment>& plan) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + opts_.fix_timeout;
    std::map<std::string, std::vector<std::int32_t>> by_topic;
    for (const auto& p : plan) by_topic[p.topic].push_back(p.partition);
    std::vector<protocol::topic_partitions> query;
    for (const auto& [t, ps] : by_topic) query.push_back({t, ps});
    std::size_t last_done = static_cast<std::size_t>(-1);
    std::int32_t correlation = 100;
    for (;;) {
      auto md = co_await admin_.describe_cluster();
      std::size_t done = 0;
      for (const auto& p : plan) {
        const topic_info* t = md.find(p.topic);
        if (!t) continue;
        for (const auto& pi : t->partitions) {
          if (pi.id != p.partition) continue;
          bool all_in = std::all_of(p.replicas->begin(), p.replicas->end(), [&](std::int32_t r) {
            return std::find(pi.isr.begin(), pi.isr.end(), r) != pi.isr.end() &&
                   std::find(pi.replicas.begin(), pi.replicas.end(), r) != pi.replicas.end();
          });
          if (all_in && pi.replicas.size() == p.replicas->size()) ++done;
        }
      }
      std::size_t ongoing = 0;
      try {
        auto frame = protocol::encode_list_partition_reassignments(
            ++correlation, "pokeflow-topics", static_cast<std::int32_t>(opts_.timeout.count()), query);
        auto resp = protocol::decode_list_partition_reassignments(co_await send(md, std::move(frame)));
        if (resp.error_code == 0) ongoing = resp.ongoing.size();
      } catch (const std::exception&) {
        // The metadata check alone still tells us when the ISR is complete.
      }
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
      if (done != last_done) {
        out_ << "  " << done << "/" << plan.size() << " partitions have " << target_replication
             << " in-sync replicas (" << ongoing << " reassignment(s) in progress, " << secs << " s)\n";
        out_.flush();
        last_done = done;
      }
      if (done == plan.size() && ongoing == 0) co_return true;
      if (std::chrono::steady_clock::now() >= deadline) {
        err_ << "pokeflow topics fix: timed out after " << secs << " s with " << done << "/" << plan.size()
             << " partitions complete; the reassignment continues in the cluster, run `pokeflow topics fix` again\n";
        co_return false;
      }
      co_await sleep(1s);
    }
  }

  asio::awaitable<int> remove() {
    auto results = co_await admin_.delete_topics(names());
    int rc = 0;
    std::vector<std::string> deleted;
    for (const auto& r : results) {
      if (!r.error) {
        out_ << "deleted " << r.name << "\n";
        deleted.push_back(r.name);
      } else if (r.error->code == err_unknown_topic || r.error->code == err_unknown_topic_id) {
        out_ << "absent  " << r.name << "\n";
      } else {
        err_ << "pokeflow topics delete: " << r.error->message << "\n";
        rc = 1;
      }
    }
    // Deletion finishes asynchronously; wait so an `init` right after does not collide.
    if (!deleted.empty() && !co_await wait_for(deleted, false)) {
      err_ << "pokeflow topics delete: topics still listed after " << opts_.timeout.count() / 1000 << " s\n";
      rc = 1;
    }
    co_return rc;
  }

  asio::io_context& io_;
  const kafka_config& cfg_;
  const topics_options& opts_;
  std::ostream& out_;
  std::ostream& err_;
  admin admin_;
};

}  // namespace

int run_topics_command(const kafka_config& cfg, std::string_view verb, const topics_options& opts,
                       std::ostream& out, std::ostream& err) {
  if (verb != "init" && verb != "grow" && verb != "fix" && verb != "describe" && verb != "delete") {
    err << "pokeflow topics: unknown verb '" << verb << "' (expected init, grow, fix, describe or delete)\n";
    return 2;
  }
  if (opts.partitions < 1 || opts.partitions > max_partitions) {
    err << "pokeflow topics: --partitions " << opts.partitions << " is out of range (1 to " << max_partitions
        << ")\n";
    return 2;
  }
  if (opts.profile != "seed" && opts.profile != "safe") {
    err << "pokeflow topics: unknown profile '" << opts.profile << "' (expected seed or safe)\n";
    return 2;
  }
  for (const auto* n : {&cfg.orders_topic, &cfg.states_topic, &cfg.dlq_topic})
    if (n->empty()) {
      err << "pokeflow topics: empty topic name in configuration\n";
      return 2;
    }
  if (verb == "fix")
    if (auto why = insecure_reason(cfg)) {
      err << "pokeflow topics fix: the built-in partition reassignment client speaks PLAINTEXT only and " << *why
          << " is configured; raise replication with Kafka's kafka-reassign-partitions.sh instead\n";
      return 1;
    }
  try {
    asio::io_context io;
    command cmd(io, cfg, opts, out, err);
    int rc = 1;
    asio::co_spawn(io, cmd.run(verb), [&](std::exception_ptr ep, int r) {
      io.stop();  // the admin client's wake-up watch would keep run() going forever
      if (!ep) {
        rc = r;
        return;
      }
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        err << "pokeflow topics " << verb << ": " << e.what() << "\n";
      }
      rc = 1;
    });
    io.run();
    return rc;
  } catch (const std::invalid_argument& e) {
    err << "pokeflow topics: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "pokeflow topics: " << e.what() << "\n";
    return 1;
  }
}

int run_topics_command(const kafka_config& cfg, std::string_view verb, const topics_options& opts) {
  return run_topics_command(cfg, verb, opts, std::cout, std::cerr);
}

}  // namespace pokeflow::core::kafka
