#pragma once
// Private to src/core/kafka: the one header that includes librdkafka.
#include <librdkafka/rdkafka.h>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <string>

#include "core/kafka/types.hpp"
#include "pokeflow/config.hpp"

namespace pokeflow::core::kafka::detail {

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

struct event_deleter {
  void operator()(rd_kafka_event_t* e) const noexcept { rd_kafka_event_destroy(e); }
};
using event_ptr = std::unique_ptr<rd_kafka_event_t, event_deleter>;

struct queue_deleter {
  void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, queue_deleter>;

struct tpl_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using tpl_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, tpl_deleter>;

// Builds a configuration: bootstrap.servers, then our defaults, then the user's pass-through
// properties last so they can override anything. Throws std::invalid_argument naming the
// offending property. quiet=true drops librdkafka's own log lines (CLI use); otherwise they
// are forwarded to core::log as JSON.
conf_ptr make_conf(const kafka_config& cfg, const std::map<std::string, std::string>& defaults,
                   bool quiet = false);

// Creates the handle (takes ownership of conf on success). Throws std::runtime_error.
rd_kafka_t* new_handle(rd_kafka_type_t type, conf_ptr conf);

kafka_error to_error(rd_kafka_resp_err_t err, std::string_view context = {});

// A non-blocking pipe whose read end is watched by Asio; librdkafka writes one byte to the
// write end when a queue it is attached to becomes non-empty (rd_kafka_queue_io_event_enable).
class wake_pipe {
 public:
  explicit wake_pipe(boost::asio::io_context& io);
  ~wake_pipe();
  wake_pipe(const wake_pipe&) = delete;
  wake_pipe& operator=(const wake_pipe&) = delete;
  void attach(rd_kafka_queue_t* q);
  static void detach(rd_kafka_queue_t* q);
  void drain() noexcept;
  boost::asio::posix::stream_descriptor& descriptor() noexcept { return read_; }

 private:
  boost::asio::posix::stream_descriptor read_;
  int write_fd_ = -1;
};

// Serves a queue each time its wake pipe fires, for as long as the owner lives: drains the
// pipe, calls serve(owner), waits again. Ends when the owner is gone or the descriptor is
// cancelled or closed. `pipe` names the owner's member, so nothing dangles.
template <class Owner, class Serve>
void pump(std::weak_ptr<Owner> owner, wake_pipe Owner::*pipe, Serve serve) {
  auto strong = owner.lock();
  if (!strong) return;
  ((*strong).*pipe)
      .descriptor()
      .async_wait(boost::asio::posix::stream_descriptor::wait_read,
                  [owner = std::move(owner), pipe, serve = std::move(serve)](boost::system::error_code ec) mutable {
                    auto self = owner.lock();
                    if (!self || ec) return;
                    ((*self).*pipe).drain();
                    serve(*self);
                    pump(std::move(owner), pipe, std::move(serve));
                  });
}

// Hands a result to an awaiting coroutine. Always posted, never invoked inline, so a caller's
// continuation never runs inside a librdkafka callback.
template <class T>
void complete(boost::asio::io_context& io, boost::asio::any_completion_handler<void(T)> h, T value) {
  boost::asio::post(io, boost::asio::append(std::move(h), std::move(value)));
}

// Runs a blocking librdkafka call on a worker thread and resumes the caller on io.
// Exceptions thrown by fn are rethrown in the caller.
template <class T, class F>
boost::asio::awaitable<T> offload(boost::asio::io_context& io, boost::asio::thread_pool& pool, F fn) {
  // GCC 12.2 destroys the captures of a lambda (or the members of an aggregate) that is a
  // temporary inside a co_await expression twice. So: this is no coroutine, and callers pass a
  // named lambda (`auto work = [...]{}; co_await offload<T>(io, pool, std::move(work));`).
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr, T)>(
      [&io, &pool](auto h, F f) {
        boost::asio::post(pool, [&io, f = std::move(f), h = std::move(h)]() mutable {
          std::exception_ptr ep;
          T r{};
          try {
            r = f();
          } catch (...) {
            ep = std::current_exception();
          }
          boost::asio::post(io, boost::asio::append(std::move(h), ep, std::move(r)));
        });
      },
      boost::asio::use_awaitable, std::move(fn));
}

// Blocking metadata request: call from a worker thread only. Throws kafka_exception.
cluster_metadata fetch_metadata(rd_kafka_t* rk, bool all_topics, std::chrono::milliseconds timeout);

// "no Kafka broker reachable at <brokers> (<reason>)" or nullopt. Blocking: worker thread only.
std::optional<std::string> ping_blocking(rd_kafka_t* rk, const std::string& brokers,
                                         std::chrono::milliseconds timeout);

// ping_blocking on the client's worker thread, resuming on io. The caller keeps rk (its impl)
// alive until this returns.
boost::asio::awaitable<std::optional<std::string>> ping_offloaded(boost::asio::io_context& io,
                                                                  boost::asio::thread_pool& worker, rd_kafka_t* rk,
                                                                  std::string brokers,
                                                                  std::chrono::milliseconds timeout);

tpl_ptr make_list(const std::vector<topic_partition>& parts);
std::vector<topic_partition> from_list(const rd_kafka_topic_partition_list_t* l);

}  // namespace pokeflow::core::kafka::detail
