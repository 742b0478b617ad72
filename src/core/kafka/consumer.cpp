#include "core/kafka/consumer.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <set>
#include <unordered_map>

#include "core/kafka/detail.hpp"
#include "core/log.hpp"

namespace pokeflow::core::kafka {

namespace asio = boost::asio;
using namespace detail;
using commit_handler = asio::any_completion_handler<void(std::optional<kafka_error>)>;

struct consumer::impl : std::enable_shared_from_this<consumer::impl> {
  asio::io_context& io;
  std::string brokers;
  consumer_options opts;
  wake_pipe msg_pipe;     // consumer queue: messages, rebalances, errors (served by next_batch)
  wake_pipe commit_pipe;  // commit results (served by a background pump)
  asio::thread_pool worker{1};
  rd_kafka_t* rk = nullptr;
  queue_ptr consumer_q;
  queue_ptr commit_q;
  std::set<topic_partition> assigned;
  std::function<void(const rebalance_event&)> hook;
  std::unordered_map<std::uintptr_t, commit_handler> commits;
  std::uintptr_t next_commit_id = 1;
  bool closing = false;
  bool closed = false;
  std::optional<kafka_error> fatal;  // set once librdkafka raised a fatal error

  impl(asio::io_context& io_, const kafka_config& cfg, consumer_options o)
      : io(io_), brokers(cfg.brokers), opts(std::move(o)), msg_pipe(io_), commit_pipe(io_) {
    if (opts.group_id.empty()) throw std::invalid_argument("kafka consumer: empty group id");
    std::map<std::string, std::string> defaults{
        {"group.id", opts.group_id},
        {"client.id", opts.client_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "range"},
        {"enable.partition.eof", "false"},
        // A subscribed topic created (or re-created by a chaos experiment) after we started is
        // noticed within 10 s instead of librdkafka's default 5 minutes.
        {"topic.metadata.refresh.interval.ms", "10000"},
        // Order latency matters more than fetch request count here.
        {"fetch.wait.max.ms", "100"},
        {"session.timeout.ms", std::to_string(opts.session_timeout.count())},
        {"max.poll.interval.ms", std::to_string(opts.max_poll_interval.count())},
        {"queued.max.messages.kbytes", std::to_string(opts.queued_max_kbytes)},
        {"queued.min.messages", "10000"},
        {"fetch.max.bytes", std::to_string(opts.fetch_max_bytes)},
        {"max.partition.fetch.bytes", std::to_string(std::min(opts.fetch_max_bytes, 1024 * 1024))},
    };
    conf_ptr conf = make_conf(cfg, defaults, opts.quiet);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &impl::on_rebalance_cb);
    rd_kafka_conf_set_error_cb(conf.get(), &impl::on_error);
    rk = new_handle(RD_KAFKA_CONSUMER, std::move(conf));
    rd_kafka_poll_set_consumer(rk);  // main queue (errors) is served with the messages
    consumer_q.reset(rd_kafka_queue_get_consumer(rk));
    commit_q.reset(rd_kafka_queue_new(rk));
    msg_pipe.attach(consumer_q.get());
    commit_pipe.attach(commit_q.get());
  }

  ~impl() {
    worker.join();
    wake_pipe::detach(consumer_q.get());
    wake_pipe::detach(commit_q.get());
    consumer_q.reset();
    commit_q.reset();
    // close() already left the group; without it we skip the blocking leave (the group
    // coordinator notices after session.timeout.ms).
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }

  void start() {
    pump(weak_from_this(), &impl::commit_pipe, [](impl& self) { self.serve_commits(); });
  }

  void serve_commits() {
    while (rd_kafka_event_t* raw = rd_kafka_queue_poll(commit_q.get(), 0)) {
      event_ptr ev(raw);
      if (rd_kafka_event_type(raw) != RD_KAFKA_EVENT_OFFSET_COMMIT) continue;
      auto id = reinterpret_cast<std::uintptr_t>(rd_kafka_event_opaque(raw));
      auto it = commits.find(id);
      if (it == commits.end()) continue;
      std::optional<kafka_error> result;
      if (rd_kafka_resp_err_t err = rd_kafka_event_error(raw)) {
        result = to_error(err, "commit");
      } else if (const auto* l = rd_kafka_event_topic_partition_list(raw)) {
        for (int i = 0; i < l->cnt && !result; ++i)
          if (l->elems[i].err)
            result = to_error(l->elems[i].err, "commit " + std::string(l->elems[i].topic) + "[" +
                                                   std::to_string(l->elems[i].partition) + "]");
      }
      auto h = std::move(it->second);
      commits.erase(it);
      complete(io, std::move(h), std::move(result));
    }
  }

  void notify(rebalance_event::kind k, const rd_kafka_topic_partition_list_t* parts) {
    if (!hook) return;
    rebalance_event ev{k, from_list(parts)};
    try {
      hook(ev);
    } catch (const std::exception& e) {
      log::error("kafka rebalance hook threw", {{"error", e.what()}});
    }
  }

  // (Incremental) assign/unassign hand an op to librdkafka's own main thread and wait for its
  // reply: local work only, never a network round trip, so fine on the io thread.
  void handle_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      for (const auto& tp : from_list(parts)) assigned.insert(tp);
      log::info("kafka partitions assigned",
                {{"group", opts.group_id}, {"count", parts ? parts->cnt : 0}});
      notify(rebalance_event::kind::assigned, parts);
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) {
          log::error("kafka incremental assign failed", {{"error", rd_kafka_error_string(e)}});
          rd_kafka_error_destroy(e);
        }
      } else if (rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts)) {
        log::error("kafka assign failed", {{"group", opts.group_id}, {"error", rd_kafka_err2str(e)}});
      }
      return;
    }
    // Revoke (or an error): the caller drops in-flight work first, then we let go.
    const bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk);
    for (const auto& tp : from_list(parts)) assigned.erase(tp);
    if (!cooperative) assigned.clear();
    log::info("kafka partitions revoked", {{"group", opts.group_id},
                                           {"count", parts ? parts->cnt : 0},
                                           {"lost", lost}});
    notify(lost ? rebalance_event::kind::lost : rebalance_event::kind::revoked, parts);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) {
        log::error("kafka incremental unassign failed", {{"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }

  static void on_rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<impl*>(opaque)->handle_rebalance(err, parts);
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<impl*>(opaque);
    auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      code = rd_kafka_fatal_error(rk, buf, sizeof buf);
      self->fatal = kafka_error{error_kind::fatal, static_cast<int>(code), std::string("fatal consumer error: ") + buf};
      log::error("kafka consumer fatal error",
                 {{"group", self->opts.group_id}, {"error", buf}, {"code", rd_kafka_err2name(code)}});
      return;
    }
    log::warn("kafka consumer error",
              {{"group", self->opts.group_id}, {"error", reason}, {"code", rd_kafka_err2name(code)}});
  }

  void poll_into(std::vector<message>& out, std::size_t max) {
    while (out.size() < max) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 0);
      if (!m) return;
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          log::warn("kafka consume error",
                    {{"group", opts.group_id},
                     {"topic", m->rkt ? rd_kafka_topic_name(m->rkt) : ""},
                     {"error", rd_kafka_message_errstr(m)},
                     {"code", rd_kafka_err2name(m->err)}});
        rd_kafka_message_destroy(m);
        continue;
      }
      message msg;
      msg.topic = rd_kafka_topic_name(m->rkt);
      msg.partition = m->partition;
      // Belt and braces: never hand out a message of a partition we no longer own.
      if (!assigned.count(topic_partition{msg.topic, msg.partition})) {
        rd_kafka_message_destroy(m);
        continue;
      }
      msg.offset = m->offset;
      if (m->key) msg.key.emplace(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) msg.value.assign(static_cast<const char*>(m->payload), m->len);
      msg.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; ++i)
          msg.headers.push_back(
              {name, val ? std::string(static_cast<const char*>(val), size) : std::string()});
      }
      rd_kafka_message_destroy(m);
      out.push_back(std::move(msg));
    }
  }
};

consumer::consumer(asio::io_context& io, const kafka_config& cfg, consumer_options opts)
    : impl_(std::make_shared<impl>(io, cfg, std::move(opts))) {
  impl_->start();
}

consumer::~consumer() = default;

// Like assign, subscribe only waits for librdkafka's main thread, not for the group join.
void consumer::subscribe(const std::vector<std::string>& topics) {
  std::vector<topic_partition> parts;
  for (const auto& t : topics) parts.push_back({t, RD_KAFKA_PARTITION_UA});
  auto l = make_list(parts);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(impl_->rk, l.get()))
    throw kafka_exception(to_error(err, "subscribe"));
}

void consumer::on_rebalance(std::function<void(const rebalance_event&)> fn) { impl_->hook = std::move(fn); }

asio::awaitable<std::vector<message>> consumer::next_batch(std::size_t max,
                                                           std::chrono::milliseconds timeout) {
  auto self = impl_;
  std::vector<message> out;
  if (max == 0) co_return out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(self->io);
  for (;;) {
    if (self->closing) co_return out;
    // Drain before polling: librdkafka writes one wake-up per "queue became non-empty since it
    // was last served", so a byte arriving after this point means new data.
    self->msg_pipe.drain();
    self->poll_into(out, max);
    if (self->fatal) throw kafka_exception(*self->fatal);
    if (!out.empty() || std::chrono::steady_clock::now() >= deadline) co_return out;
    timer.expires_at(deadline);
    timer.async_wait([w = std::weak_ptr<impl>(self)](boost::system::error_code ec) {
      if (ec) return;
      if (auto s = w.lock()) s->msg_pipe.descriptor().cancel();
    });
    boost::system::error_code ec;
    co_await self->msg_pipe.descriptor().async_wait(asio::posix::stream_descriptor::wait_read,
                                                    asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
  }
}

asio::awaitable<std::optional<kafka_error>> consumer::commit(std::string topic, std::int32_t partition,
                                                             std::int64_t next_offset) {
  std::vector<offset> v;
  v.push_back({std::move(topic), partition, next_offset});
  co_return co_await commit(std::move(v));
}

asio::awaitable<std::optional<kafka_error>> consumer::commit(std::vector<offset> offsets) {
  auto self = impl_;
  if (offsets.empty()) co_return std::nullopt;
  if (self->closed) co_return to_error(RD_KAFKA_RESP_ERR__STATE, "commit after close");
  tpl_ptr l(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& o : offsets) {
    if (!self->assigned.count(topic_partition{o.topic, o.partition}))
      co_return kafka_error{error_kind::fatal, RD_KAFKA_RESP_ERR__STATE,
                            "commit " + o.topic + "[" + std::to_string(o.partition) +
                                "]: partition not assigned to this consumer (revoked)"};
    rd_kafka_topic_partition_list_add(l.get(), o.topic.c_str(), o.partition)->offset = o.next_offset;
  }
  const auto id = self->next_commit_id++;
  if (rd_kafka_resp_err_t err = rd_kafka_commit_queue(self->rk, l.get(), self->commit_q.get(), nullptr,
                                                      reinterpret_cast<void*>(id)))
    co_return to_error(err, "commit");
  auto park = [self, id](auto h) { self->commits.emplace(id, std::move(h)); };  // named: see detail.hpp
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                          void(std::optional<kafka_error>)>(std::move(park), asio::use_awaitable);
}

asio::awaitable<std::optional<kafka_error>> commit_paced(consumer& c, commit_pacer& pacer, bool now_anyway) {
  if (pacer.empty() || (!now_anyway && !pacer.due(commit_pacer::clock::now()))) co_return std::nullopt;
  auto plan = pacer.take();
  std::vector<consumer::offset> offsets;
  offsets.reserve(plan.size());
  for (const auto& o : plan) offsets.push_back({o.tp.topic, o.tp.partition, o.next_offset});
  auto err = co_await c.commit(std::move(offsets));
  if (err) pacer.record(plan, 0, commit_pacer::clock::now());
  co_return err;
}

std::vector<topic_partition> consumer::assignment() const {
  return {impl_->assigned.begin(), impl_->assigned.end()};
}

std::vector<partition_lag> consumer::lag() const {
  std::vector<partition_lag> out;
  if (impl_->assigned.empty() || impl_->closed) return out;
  auto l = make_list(assignment());
  rd_kafka_position(impl_->rk, l.get());
  for (int i = 0; i < l->cnt; ++i) {
    const auto& e = l->elems[i];
    partition_lag pl{e.topic, e.partition, -1, e.offset >= 0 ? e.offset : -1, -1};
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(impl_->rk, e.topic, e.partition, &lo, &hi) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi >= 0)
      pl.high_watermark = hi;
    if (pl.high_watermark >= 0 && pl.position >= 0)
      pl.lag = std::max<std::int64_t>(0, pl.high_watermark - pl.position);
    out.push_back(std::move(pl));
  }
  return out;
}

asio::awaitable<std::optional<std::string>> consumer::ping(std::chrono::milliseconds timeout) {
  auto self = impl_;  // alive until the worker answers
  co_return co_await ping_offloaded(self->io, self->worker, self->rk, self->brokers, timeout);
}

asio::awaitable<void> consumer::close(std::chrono::milliseconds timeout) {
  auto self = impl_;
  if (self->closing) co_return;
  self->closing = true;
  self->msg_pipe.descriptor().cancel();  // wakes a pending next_batch
  // rd_kafka_consumer_close() would block while leaving the group; the queue variant lets us
  // serve the final revoke here and poll for completion with a timer.
  queue_ptr close_q(rd_kafka_queue_new(self->rk));
  if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(self->rk, close_q.get())) {
    log::warn("kafka consumer close", {{"group", self->opts.group_id}, {"error", rd_kafka_error_string(e)}});
    rd_kafka_error_destroy(e);
  } else {
    asio::steady_timer timer(self->io);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!rd_kafka_consumer_closed(self->rk)) {
      while (rd_kafka_event_t* raw = rd_kafka_queue_poll(close_q.get(), 0)) {
        event_ptr ev(raw);
        if (rd_kafka_event_type(raw) == RD_KAFKA_EVENT_REBALANCE)
          self->handle_rebalance(rd_kafka_event_error(raw), rd_kafka_event_topic_partition_list(raw));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        log::warn("kafka consumer close timed out", {{"group", self->opts.group_id}});
        break;
      }
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
  // Commits still unanswered will never be: tell their callers rather than leave them hanging.
  self->serve_commits();
  for (auto& [id, h] : self->commits)
    complete(self->io, std::move(h),
             std::optional<kafka_error>(to_error(RD_KAFKA_RESP_ERR__DESTROY, "commit: consumer closed")));
  self->commits.clear();
  self->closed = true;
  self->assigned.clear();
  log::info("kafka consumer closed", {{"group", self->opts.group_id}});
}

}  // namespace pokeflow::core::kafka
