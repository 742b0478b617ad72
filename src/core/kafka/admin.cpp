#include "core/kafka/admin.hpp"

#include <unordered_map>

#include "core/kafka/detail.hpp"
#include "core/log.hpp"

namespace pokeflow::core::kafka {

namespace asio = boost::asio;
using namespace detail;
using event_sp = std::shared_ptr<rd_kafka_event_t>;

namespace {

struct options_deleter {
  void operator()(rd_kafka_AdminOptions_t* o) const noexcept { rd_kafka_AdminOptions_destroy(o); }
};
using options_ptr = std::unique_ptr<rd_kafka_AdminOptions_t, options_deleter>;

struct resource_deleter {
  void operator()(rd_kafka_ConfigResource_t* r) const noexcept { rd_kafka_ConfigResource_destroy(r); }
};
using resource_ptr = std::unique_ptr<rd_kafka_ConfigResource_t, resource_deleter>;

std::optional<kafka_error> item_error(rd_kafka_resp_err_t err, const char* msg, const std::string& name) {
  if (!err) return std::nullopt;
  kafka_error e = to_error(err, name);
  if (msg && *msg) e.message = name + ": " + msg + " (" + rd_kafka_err2name(err) + ")";
  return e;
}

}  // namespace

struct admin::impl : std::enable_shared_from_this<admin::impl> {
  asio::io_context& io;
  std::string brokers;
  admin_options opts;
  wake_pipe pipe;
  asio::thread_pool worker{1};
  rd_kafka_t* rk = nullptr;
  queue_ptr main_q;
  queue_ptr admin_q;
  std::unordered_map<std::uintptr_t, asio::any_completion_handler<void(event_sp)>> pending;
  std::uintptr_t next_id = 1;

  impl(asio::io_context& io_, const kafka_config& cfg, admin_options o)
      : io(io_), brokers(cfg.brokers), opts(std::move(o)), pipe(io_) {
    conf_ptr conf = make_conf(cfg, {{"client.id", opts.client_id}}, opts.quiet);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_error_cb(conf.get(), &impl::on_error);
    rk = new_handle(RD_KAFKA_PRODUCER, std::move(conf));
    main_q.reset(rd_kafka_queue_get_main(rk));
    admin_q.reset(rd_kafka_queue_new(rk));
    pipe.attach(main_q.get());
    pipe.attach(admin_q.get());
  }

  ~impl() {
    worker.join();
    wake_pipe::detach(main_q.get());
    wake_pipe::detach(admin_q.get());
    main_q.reset();
    admin_q.reset();
    rd_kafka_destroy(rk);
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<impl*>(opaque);
    if (self->opts.quiet) return;
    log::warn("kafka admin error",
              {{"error", reason}, {"code", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))}});
  }

  void start() {
    pump(weak_from_this(), &impl::pipe, [](impl& self) { self.serve(); });
  }

  void serve() {
    rd_kafka_poll(rk, 0);  // errors/logs on the main queue
    while (rd_kafka_event_t* raw = rd_kafka_queue_poll(admin_q.get(), 0)) {
      event_sp ev(raw, rd_kafka_event_destroy);
      auto id = reinterpret_cast<std::uintptr_t>(rd_kafka_event_opaque(raw));
      auto it = pending.find(id);
      if (it == pending.end()) continue;
      auto h = std::move(it->second);
      pending.erase(it);
      complete(io, std::move(h), std::move(ev));
    }
  }

  // Starts one admin request and awaits its result event; a request-level error throws.
  template <class Start>
  asio::awaitable<event_sp> request(rd_kafka_admin_op_t op, std::string what, Start start) {
    auto self = shared_from_this();
    options_ptr o(rd_kafka_AdminOptions_new(rk, op));
    char errstr[256];
    const int ms = static_cast<int>(opts.request_timeout.count());
    rd_kafka_AdminOptions_set_request_timeout(o.get(), ms, errstr, sizeof errstr);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
      rd_kafka_AdminOptions_set_operation_timeout(o.get(), ms, errstr, sizeof errstr);
    const auto id = next_id++;
    rd_kafka_AdminOptions_set_opaque(o.get(), reinterpret_cast<void*>(id));
    event_sp ev = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(event_sp)>(
        [&](auto h) {
          pending.emplace(id, std::move(h));
          start(o.get(), admin_q.get());
        },
        asio::use_awaitable);
    if (rd_kafka_resp_err_t err = rd_kafka_event_error(ev.get())) {
      const char* s = rd_kafka_event_error_string(ev.get());
      kafka_error e = to_error(err, what);
      if (s && *s) e.message = what + ": " + s + " (" + rd_kafka_err2name(err) + ")";
      throw kafka_exception(std::move(e));
    }
    co_return ev;
  }
};

admin::admin(asio::io_context& io, const kafka_config& cfg, admin_options opts)
    : impl_(std::make_shared<impl>(io, cfg, std::move(opts))) {
  impl_->start();
}

admin::~admin() = default;

asio::awaitable<std::optional<std::string>> admin::ping(std::chrono::milliseconds timeout) {
  auto self = impl_;  // alive until the worker answers
  co_return co_await ping_offloaded(self->io, self->worker, self->rk, self->brokers, timeout);
}

asio::awaitable<cluster_metadata> admin::describe_cluster() {
  auto self = impl_;
  auto work = [rk = self->rk, t = self->opts.request_timeout] { return fetch_metadata(rk, true, t); };
  co_return co_await offload<cluster_metadata>(self->io, self->worker, std::move(work));
}

namespace {
// Per-topic outcome of CreateTopics / DeleteTopics.
std::vector<item_result> topic_results(const rd_kafka_topic_result_t** res, size_t n) {
  std::vector<item_result> out;
  for (size_t i = 0; i < n; ++i) {
    std::string name = rd_kafka_topic_result_name(res[i]);
    out.push_back({name, item_error(rd_kafka_topic_result_error(res[i]), rd_kafka_topic_result_error_string(res[i]),
                                    name)});
  }
  return out;
}
}  // namespace

asio::awaitable<std::vector<item_result>> admin::create_topics(std::vector<new_topic> topics) {
  auto self = impl_;
  std::vector<rd_kafka_NewTopic_t*> nts;
  struct guard {
    std::vector<rd_kafka_NewTopic_t*>& v;
    ~guard() { rd_kafka_NewTopic_destroy_array(v.data(), v.size()); }
  } g{nts};
  for (const auto& t : topics) {
    char errstr[256];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication, errstr,
                                                    sizeof errstr);
    if (!nt) throw std::invalid_argument("topic " + t.name + ": " + errstr);
    nts.push_back(nt);
    for (const auto& [k, v] : t.configs)
      if (rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str()))
        throw kafka_exception(to_error(err, "topic " + t.name + " config " + k));
  }
  event_sp ev = co_await self->request(RD_KAFKA_ADMIN_OP_CREATETOPICS, "create topics",
                                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                         rd_kafka_CreateTopics(self->rk, nts.data(), nts.size(), o, q);
                                       });
  size_t n = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n);
  co_return topic_results(res, n);
}

asio::awaitable<std::vector<item_result>> admin::delete_topics(std::vector<std::string> topics) {
  auto self = impl_;
  std::vector<rd_kafka_DeleteTopic_t*> dts;
  struct guard {
    std::vector<rd_kafka_DeleteTopic_t*>& v;
    ~guard() { rd_kafka_DeleteTopic_destroy_array(v.data(), v.size()); }
  } g{dts};
  for (const auto& t : topics) dts.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  event_sp ev = co_await self->request(RD_KAFKA_ADMIN_OP_DELETETOPICS, "delete topics",
                                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                         rd_kafka_DeleteTopics(self->rk, dts.data(), dts.size(), o, q);
                                       });
  size_t n = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
  co_return topic_results(res, n);
}

asio::awaitable<std::vector<item_result>> admin::create_partitions(std::vector<std::pair<std::string, int>> totals) {
  auto self = impl_;
  std::vector<rd_kafka_NewPartitions_t*> nps;
  struct guard {
    std::vector<rd_kafka_NewPartitions_t*>& v;
    ~guard() { rd_kafka_NewPartitions_destroy_array(v.data(), v.size()); }
  } g{nps};
  for (const auto& [name, total] : totals) {
    char errstr[256];
    rd_kafka_NewPartitions_t* np =
        rd_kafka_NewPartitions_new(name.c_str(), static_cast<size_t>(total), errstr, sizeof errstr);
    if (!np) throw std::invalid_argument("topic " + name + ": " + errstr);
    nps.push_back(np);
  }
  event_sp ev = co_await self->request(RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, "create partitions",
                                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                         rd_kafka_CreatePartitions(self->rk, nps.data(), nps.size(), o, q);
                                       });
  size_t n = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev.get()), &n);
  co_return topic_results(res, n);
}

asio::awaitable<std::map<std::string, config_entry>> admin::describe_topic_config(std::string topic) {
  auto self = impl_;
  resource_ptr r(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  rd_kafka_ConfigResource_t* arr[] = {r.get()};
  event_sp ev = co_await self->request(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, "describe config of " + topic,
                                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                         rd_kafka_DescribeConfigs(self->rk, arr, 1, o, q);
                                       });
  size_t n = 0;
  const rd_kafka_ConfigResource_t** res =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev.get()), &n);
  std::map<std::string, config_entry> out;
  for (size_t i = 0; i < n; ++i) {
    if (auto e = item_error(rd_kafka_ConfigResource_error(res[i]),
                            rd_kafka_ConfigResource_error_string(res[i]), "describe config of " + topic))
      throw kafka_exception(std::move(*e));
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(res[i], &cnt);
    for (size_t j = 0; j < cnt; ++j) {
      const char* v = rd_kafka_ConfigEntry_value(entries[j]);
      config_entry ce;
      ce.value = v ? v : "";
      ce.is_default = rd_kafka_ConfigEntry_is_default(entries[j]);
      ce.read_only = rd_kafka_ConfigEntry_is_read_only(entries[j]);
      ce.sensitive = rd_kafka_ConfigEntry_is_sensitive(entries[j]);
      ce.dynamic_topic =
          rd_kafka_ConfigEntry_source(entries[j]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG;
      out.emplace(rd_kafka_ConfigEntry_name(entries[j]), std::move(ce));
    }
  }
  co_return out;
}

asio::awaitable<void> admin::alter_topic_config(std::string topic, std::map<std::string, std::string> changes) {
  auto self = impl_;
  auto current = co_await describe_topic_config(topic);
  resource_ptr r(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  std::map<std::string, std::string> full;
  for (const auto& [k, e] : current) {
    if (!e.dynamic_topic || changes.count(k)) continue;
    if (e.sensitive)  // its value is not readable, so a replace would lose it
      throw kafka_exception(kafka_error{error_kind::fatal, RD_KAFKA_RESP_ERR__INVALID_ARG,
                                        "alter config of " + topic + ": sensitive dynamic config " + k +
                                            " cannot be preserved by AlterConfigs"});
    full[k] = e.value;
  }
  for (const auto& [k, v] : changes) full[k] = v;
  for (const auto& [k, v] : full)
    if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_set_config(r.get(), k.c_str(), v.c_str()))
      throw kafka_exception(to_error(err, "alter config of " + topic + ": " + k));
  rd_kafka_ConfigResource_t* arr[] = {r.get()};
  event_sp ev = co_await self->request(RD_KAFKA_ADMIN_OP_ALTERCONFIGS, "alter config of " + topic,
                                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                         rd_kafka_AlterConfigs(self->rk, arr, 1, o, q);
                                       });
  size_t n = 0;
  const rd_kafka_ConfigResource_t** res =
      rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i)
    if (auto e = item_error(rd_kafka_ConfigResource_error(res[i]),
                            rd_kafka_ConfigResource_error_string(res[i]), "alter config of " + topic))
      throw kafka_exception(std::move(*e));
}

asio::awaitable<std::vector<group_listing>> admin::list_groups() {
  auto self = impl_;
  event_sp ev = co_await self->request(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, "list groups",
                                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                         rd_kafka_ListConsumerGroups(self->rk, o, q);
                                       });
  size_t n = 0;
  const rd_kafka_ConsumerGroupListing_t** valid =
      rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(ev.get()), &n);
  std::vector<group_listing> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back({rd_kafka_ConsumerGroupListing_group_id(valid[i]),
                   rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(valid[i]))});
  co_return out;
}

asio::awaitable<std::vector<partition_lag>> admin::group_offsets(std::string group) {
  auto self = impl_;
  rd_kafka_ListConsumerGroupOffsets_t* req = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
  struct guard {
    rd_kafka_ListConsumerGroupOffsets_t* r;
    ~guard() { rd_kafka_ListConsumerGroupOffsets_destroy(r); }
  } g{req};
  event_sp ev = co_await self->request(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
                                       "committed offsets of group " + group,
                                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                         rd_kafka_ListConsumerGroupOffsets(self->rk, &req, 1, o, q);
                                       });
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(ev.get()), &n);
  std::vector<partition_lag> out;
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;
      kafka_error ke = to_error(rd_kafka_error_code(e), "committed offsets of group " + group);
      ke.message = "committed offsets of group " + group + ": " + rd_kafka_error_string(e);
      throw kafka_exception(std::move(ke));
    }
    const rd_kafka_topic_partition_list_t* l = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; l && j < l->cnt; ++j) {
      const auto& e = l->elems[j];
      out.push_back({e.topic, e.partition, -1, e.offset >= 0 ? e.offset : -1, -1});
    }
  }
  std::sort(out.begin(), out.end(), [](const partition_lag& a, const partition_lag& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  });
  co_return out;
}

asio::awaitable<std::vector<partition_lag>> admin::group_lag(std::string group) {
  auto self = impl_;
  auto offsets = co_await group_offsets(group);
  auto work = [rk = self->rk, t = self->opts.request_timeout, offsets = std::move(offsets)]() mutable {
        for (auto& p : offsets) {
          int64_t lo = -1, hi = -1;
          if (rd_kafka_query_watermark_offsets(rk, p.topic.c_str(), p.partition, &lo, &hi,
                                               static_cast<int>(t.count())) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;  // leader unreachable: lag unknown (-1)
          p.high_watermark = hi;
          p.lag = std::max<std::int64_t>(0, hi - (p.position >= 0 ? p.position : lo));
        }
        return offsets;
      };
  co_return co_await offload<std::vector<partition_lag>>(self->io, self->worker, std::move(work));
}

asio::awaitable<std::optional<kafka_error>> admin::delete_group(std::string group) {
  auto self = impl_;
  rd_kafka_DeleteGroup_t* dg = rd_kafka_DeleteGroup_new(group.c_str());
  struct guard {
    rd_kafka_DeleteGroup_t* d;
    ~guard() { rd_kafka_DeleteGroup_destroy(d); }
  } g{dg};
  event_sp ev = co_await self->request(RD_KAFKA_ADMIN_OP_DELETEGROUPS, "delete group " + group,
                                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                         rd_kafka_DeleteGroups(self->rk, &dg, 1, o, q);
                                       });
  size_t n = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i)
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      kafka_error ke = to_error(rd_kafka_error_code(e), "delete group " + group);
      ke.message = "delete group " + group + ": " + rd_kafka_error_string(e);
      co_return ke;
    }
  co_return std::nullopt;
}

asio::awaitable<std::pair<std::int64_t, std::int64_t>> admin::watermarks(std::string topic,
                                                                          std::int32_t partition) {
  auto self = impl_;
  auto work = [rk = self->rk, t = self->opts.request_timeout, topic, partition] {
        int64_t lo = -1, hi = -1;
        if (rd_kafka_resp_err_t err =
                rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &lo, &hi,
                                                 static_cast<int>(t.count())))
          throw kafka_exception(to_error(err, "watermarks of " + topic + "[" + std::to_string(partition) + "]"));
        return std::pair<std::int64_t, std::int64_t>(lo, hi);
      };
  co_return co_await offload<std::pair<std::int64_t, std::int64_t>>(self->io, self->worker, std::move(work));
}

}  // namespace pokeflow::core::kafka
