#include "core/kafka/producer.hpp"

#include <boost/asio/steady_timer.hpp>
#include <unordered_set>

#include "core/kafka/detail.hpp"
#include "core/log.hpp"

namespace pokeflow::core::kafka {

namespace asio = boost::asio;
using namespace detail;

namespace {

struct batch_state {
  std::vector<delivery> results;
  std::size_t remaining = 0;
  std::optional<asio::any_completion_handler<void(std::vector<delivery>)>> handler;
};

// msg_opaque of one message in flight.
struct pending {
  std::shared_ptr<batch_state> batch;
  std::size_t index;
};

}  // namespace

struct producer::impl : std::enable_shared_from_this<producer::impl> {
  asio::io_context& io;
  std::string brokers;
  producer_options opts;
  wake_pipe pipe;
  asio::thread_pool worker{1};  // blocking metadata requests (ping) only
  rd_kafka_t* rk = nullptr;
  queue_ptr main_q;
  std::unordered_set<pending*> pendings;
  std::optional<kafka_error> fatal;

  impl(asio::io_context& io_, const kafka_config& cfg, producer_options o)
      : io(io_), brokers(cfg.brokers), opts(std::move(o)), pipe(io_) {
    std::map<std::string, std::string> defaults{
        {"client.id", opts.client_id},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"compression.type", "lz4"},
        {"linger.ms", std::to_string(opts.linger.count())},
        {"queue.buffering.max.kbytes", std::to_string(opts.queue_max_kbytes)},
        {"message.timeout.ms", std::to_string(opts.message_timeout.count())},
    };
    conf_ptr conf = make_conf(cfg, defaults, opts.quiet);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &impl::on_delivery);
    rd_kafka_conf_set_error_cb(conf.get(), &impl::on_error);
    rk = new_handle(RD_KAFKA_PRODUCER, std::move(conf));
    main_q.reset(rd_kafka_queue_get_main(rk));
    pipe.attach(main_q.get());
  }

  ~impl() {
    worker.join();
    wake_pipe::detach(main_q.get());
    // Bounded shutdown: whatever flush() did not deliver is dropped (the outbox still has it).
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    main_q.reset();
    rd_kafka_destroy(rk);
    for (pending* p : pendings) delete p;
  }

  void start() {
    rd_kafka_poll(rk, 0);
    pump(weak_from_this(), &impl::pipe, [](impl& self) { rd_kafka_poll(self.rk, 0); });  // delivery reports
  }

  rd_kafka_resp_err_t enqueue(const outgoing& m, pending* p) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!m.headers.empty()) {
      hdrs = rd_kafka_headers_new(m.headers.size());
      for (const auto& h : m.headers)
        rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value.data(),
                            static_cast<ssize_t>(h.value.size()));
    }
    std::string topic(m.topic);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(m.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(m.key.data()), m.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
    if (err && hdrs) rd_kafka_headers_destroy(hdrs);
    return err;
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<impl*>(opaque);
    auto* p = static_cast<pending*>(m->_private);
    if (!p) return;
    delivery d;
    if (m->err) {
      d.error = to_error(m->err, "delivery to " + std::string(rd_kafka_topic_name(m->rkt)));
    } else {
      d.partition = m->partition;
      d.offset = m->offset;
    }
    self->pendings.erase(p);
    auto& b = *p->batch;
    b.results[p->index] = std::move(d);
    if (--b.remaining == 0 && b.handler) {
      auto h = std::move(*b.handler);
      b.handler.reset();
      complete(self->io, std::move(h), std::move(b.results));
    }
    delete p;
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
      self->fatal = kafka_error{error_kind::fatal, static_cast<int>(orig),
                                std::string("fatal producer error: ") + buf};
      log::error("kafka producer fatal error", {{"error", buf}, {"code", rd_kafka_err2name(orig)}});
      return;
    }
    log::warn("kafka producer error",
              {{"error", reason}, {"code", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))}});
  }
};

producer::producer(asio::io_context& io, const kafka_config& cfg, producer_options opts)
    : impl_(std::make_shared<impl>(io, cfg, std::move(opts))) {
  impl_->start();
}

producer::~producer() = default;

asio::awaitable<delivery> producer::produce(std::string_view topic, std::int32_t partition,
                                            std::string_view key, std::string_view value,
                                            std::vector<header> headers) {
  outgoing m{topic, partition, key, value, std::move(headers)};
  auto r = co_await produce_batch(std::span<const outgoing>(&m, 1));
  co_return std::move(r.front());
}

asio::awaitable<std::vector<delivery>> producer::produce_batch(std::span<const outgoing> msgs) {
  auto self = impl_;  // the frame keeps the client alive until its reports are in
  auto batch = std::make_shared<batch_state>();
  batch->results.resize(msgs.size());
  batch->remaining = msgs.size();
  asio::steady_timer timer(self->io);
  const auto deadline = std::chrono::steady_clock::now() + self->opts.message_timeout;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    for (;;) {
      if (self->fatal) {
        batch->results[i].error = self->fatal;
        --batch->remaining;
        break;
      }
      auto* p = new pending{batch, i};
      rd_kafka_resp_err_t err = self->enqueue(msgs[i], p);
      if (!err) {
        self->pendings.insert(p);
        break;
      }
      delete p;
      // Queue full: delivery reports free space; they are served while we sleep.
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(5));
        co_await timer.async_wait(asio::use_awaitable);
        continue;
      }
      batch->results[i].error = to_error(err, "produce to " + std::string(msgs[i].topic));
      --batch->remaining;
      break;
    }
  }
  if (batch->remaining == 0) co_return std::move(batch->results);
  // Named, not a temporary: see the GCC 12 note in detail.hpp.
  auto park = [batch](auto h) { batch->handler.emplace(std::move(h)); };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::vector<delivery>)>(
      std::move(park), asio::use_awaitable);
}

std::optional<kafka_error> producer::fatal_error() const { return impl_->fatal; }

void producer::raise_fatal_error_for_test(int code, const std::string& reason) {
  rd_kafka_test_fatal_error(impl_->rk, static_cast<rd_kafka_resp_err_t>(code), reason.c_str());
}

asio::awaitable<std::optional<std::string>> producer::ping(std::chrono::milliseconds timeout) {
  auto self = impl_;  // alive until the worker answers
  co_return co_await ping_offloaded(self->io, self->worker, self->rk, self->brokers, timeout);
}

asio::awaitable<bool> producer::flush(std::chrono::milliseconds timeout) {
  auto self = impl_;
  asio::steady_timer timer(self->io);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (rd_kafka_outq_len(self->rk) > 0 || !self->pendings.empty()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return true;
}

}  // namespace pokeflow::core::kafka
