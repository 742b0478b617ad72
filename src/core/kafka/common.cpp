#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/kafka/detail.hpp"
#include "core/log.hpp"

namespace pokeflow::core::kafka {

const char* to_string(error_kind k) noexcept {
  switch (k) {
    case error_kind::retryable: return "retryable";
    case error_kind::fatal: return "fatal";
  }
  return "fatal";
}

error_kind classify(int code) noexcept {
  // Switch on int: rd_kafka_resp_err_t has ~200 values and new librdkafka versions add more;
  // the ones we meet are listed, anything else falls through to fatal so an unknown problem
  // surfaces (DLQ / alert) instead of being retried forever.
  switch (code) {
    // Local (client-side) conditions that clear up by themselves.
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__ISR_INSUFF:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__WAIT_CACHE:
    case RD_KAFKA_RESP_ERR__IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_BROKER:
    case RD_KAFKA_RESP_ERR__INTR:
    // A topic that does not exist yet may be created (topics init) while we wait.
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    // Broker-side transient conditions: leadership moves, replicas catching up, overload.
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_REASSIGNMENT_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_INVALID_FETCH_SESSION_EPOCH:
    case RD_KAFKA_RESP_ERR_LISTENER_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
      return error_kind::retryable;

    // Will not succeed unchanged.
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__BAD_COMPRESSION:
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__FAIL:
    case RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE:
    case RD_KAFKA_RESP_ERR__FS:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
    case RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR__NOT_CONFIGURED:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_TOPIC_DELETION_DISABLED:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
      return error_kind::fatal;
  }
  return error_kind::fatal;
}

std::string error_name(int code) { return rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)); }

kafka_error make_error(int code, std::string_view context) {
  auto err = static_cast<rd_kafka_resp_err_t>(code);
  std::string msg;
  if (!context.empty()) {
    msg.append(context);
    msg.append(": ");
  }
  msg.append(rd_kafka_err2str(err));
  msg.append(" (");
  msg.append(rd_kafka_err2name(err));
  msg.append(")");
  return kafka_error{classify(code), code, std::move(msg)};
}

std::optional<std::string_view> message::header_value(std::string_view k) const {
  for (const auto& h : headers)
    if (h.key == k) return std::string_view(h.value);
  return std::nullopt;
}

const topic_info* cluster_metadata::find(std::string_view topic) const noexcept {
  for (const auto& t : topics)
    if (t.name == topic) return &t;
  return nullptr;
}

}  // namespace pokeflow::core::kafka

namespace pokeflow::core::kafka::detail {

namespace {

void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug.
  log_level l = level <= 3 ? log_level::error : level == 4 ? log_level::warn
                : level <= 6 ? log_level::info : log_level::debug;
  if (!log::enabled(l)) return;
  log::write(l, "librdkafka", {{"client", rd_kafka_name(rk)}, {"facility", fac}, {"detail", buf}});
}

void quiet_log_cb(const rd_kafka_t*, int, const char*, const char*) {}

void set_property(rd_kafka_conf_t* conf, const std::string& k, const std::string& v) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    throw std::invalid_argument("kafka property " + k + "=" + v + ": " + errstr);
}

}  // namespace

conf_ptr make_conf(const kafka_config& cfg, const std::map<std::string, std::string>& defaults,
                   bool quiet) {
  conf_ptr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), quiet ? quiet_log_cb : log_cb);
  if (cfg.brokers.empty()) throw std::invalid_argument("kafka brokers: empty broker list");
  set_property(conf.get(), "bootstrap.servers", cfg.brokers);
  for (const auto& [k, v] : defaults) set_property(conf.get(), k, v);
  for (const auto& [k, v] : cfg.properties) set_property(conf.get(), k, v);
  return conf;
}

rd_kafka_t* new_handle(rd_kafka_type_t type, conf_ptr conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (!rk) throw std::runtime_error(std::string("kafka client: ") + errstr);
  (void)conf.release();  // owned by rk now
  return rk;
}

kafka_error to_error(rd_kafka_resp_err_t err, std::string_view context) {
  return make_error(static_cast<int>(err), context);
}

wake_pipe::wake_pipe(boost::asio::io_context& io) : read_(io) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("kafka: pipe2: ") + std::strerror(errno));
  read_.assign(fds[0]);
  write_fd_ = fds[1];
}

wake_pipe::~wake_pipe() {
  if (write_fd_ >= 0) ::close(write_fd_);
}

void wake_pipe::attach(rd_kafka_queue_t* q) { rd_kafka_queue_io_event_enable(q, write_fd_, "1", 1); }

void wake_pipe::detach(rd_kafka_queue_t* q) { rd_kafka_queue_io_event_enable(q, -1, nullptr, 0); }

void wake_pipe::drain() noexcept {
  char buf[256];
  while (::read(read_.native_handle(), buf, sizeof buf) > 0) {
  }
}

cluster_metadata fetch_metadata(rd_kafka_t* rk, bool all_topics, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, all_topics ? 1 : 0, nullptr, &md,
                                              static_cast<int>(timeout.count()));
  if (err) throw kafka_exception(to_error(err, "metadata request"));
  cluster_metadata out;
  for (int i = 0; i < md->broker_cnt; ++i)
    out.brokers.push_back({md->brokers[i].id, md->brokers[i].host, md->brokers[i].port});
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    topic_info ti{t.topic, static_cast<int>(t.err), {}};
    for (int p = 0; p < t.partition_cnt; ++p) {
      const auto& pm = t.partitions[p];
      partition_info pi;
      pi.id = pm.id;
      pi.leader = pm.leader;
      pi.error = static_cast<int>(pm.err);
      pi.replicas.assign(pm.replicas, pm.replicas + pm.replica_cnt);
      pi.isr.assign(pm.isrs, pm.isrs + pm.isr_cnt);
      ti.partitions.push_back(std::move(pi));
    }
    std::sort(ti.partitions.begin(), ti.partitions.end(),
              [](const partition_info& a, const partition_info& b) { return a.id < b.id; });
    out.topics.push_back(std::move(ti));
  }
  std::sort(out.brokers.begin(), out.brokers.end(),
            [](const broker_info& a, const broker_info& b) { return a.id < b.id; });
  rd_kafka_metadata_destroy(md);
  return out;
}

std::optional<std::string> ping_blocking(rd_kafka_t* rk, const std::string& brokers,
                                         std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, nullptr, &md, static_cast<int>(timeout.count()));
  if (err) return "no Kafka broker reachable at " + brokers + " (" + rd_kafka_err2str(err) + ")";
  int n = md->broker_cnt;
  rd_kafka_metadata_destroy(md);
  if (n == 0) return "no Kafka broker reachable at " + brokers + " (empty metadata)";
  return std::nullopt;
}

boost::asio::awaitable<std::optional<std::string>> ping_offloaded(boost::asio::io_context& io,
                                                                  boost::asio::thread_pool& worker, rd_kafka_t* rk,
                                                                  std::string brokers,
                                                                  std::chrono::milliseconds timeout) {
  auto work = [rk, brokers = std::move(brokers), timeout] { return ping_blocking(rk, brokers, timeout); };
  co_return co_await offload<std::optional<std::string>>(io, worker, std::move(work));
}

tpl_ptr make_list(const std::vector<topic_partition>& parts) {
  tpl_ptr l(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  for (const auto& p : parts) rd_kafka_topic_partition_list_add(l.get(), p.topic.c_str(), p.partition);
  return l;
}

std::vector<topic_partition> from_list(const rd_kafka_topic_partition_list_t* l) {
  std::vector<topic_partition> out;
  if (!l) return out;
  for (int i = 0; i < l->cnt; ++i) out.push_back({l->elems[i].topic, l->elems[i].partition});
  return out;
}

}  // namespace pokeflow::core::kafka::detail
