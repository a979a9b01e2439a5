// The client's I/O shell: one strand owns the connection, its write queue and the FIFO of
// commands in flight; resp_codec does the protocol.
//
// Shape: a connection loop (one coroutine per client, on the strand) opens a connection
// (resolve, connect, AUTH, SELECT, PING, all within connect_timeout), then reads replies until
// the connection breaks, then waits out the backoff and starts again, until close(). Writes and
// the command deadline are plain completion handlers on the same strand. Everything that
// belongs to one connection lives in a Conn that the operations on it keep alive, so a late
// completion from a dead connection can never touch the next one.
//
// Counters: failures() counts commands completed with an error code; reconnects() counts
// connections established after the first one.
#include <utility>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <deque>
#include <exception>

#include "completion.hpp"
#include "resp_codec.hpp"
#include "stella/gateway/redis/redis_client.hpp"

namespace stella::gw::redis {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using detail::Completion;
using detail::Reply;
using detail::Strand;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Bytes asked of the socket per read; replies are small, and a pipeline of them arrives in a
// few reads.
constexpr std::size_t kReadChunk = 16 * 1024;

// The only clock read in this file: the deadlines are compared by the strand's own timer,
// so they are taken from the timer's clock.
asio::steady_timer::clock_type::time_point now() noexcept {
  return asio::steady_timer::clock_type::now();
}

// Our coroutines end with values, never exceptions; one that escapes anyway (std::bad_alloc)
// is reported here and the loop it ended is gone.
void report_unexpected(std::exception_ptr e, const char* what) noexcept {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "stella redis: %s ended with an exception: %s\n", what, ex.what());
  } catch (...) {
    std::fprintf(stderr, "stella redis: %s ended with an unknown exception\n", what);
  }
}

struct Pending {
  Completion done;
  asio::steady_timer::clock_type::time_point deadline;
};

// One TCP connection and everything that dies with it. Strand only.
struct Conn {
  explicit Conn(const Strand& s) : socket(s), resolver(s), timer(s) {}

  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer timer;  // the deadline of pending.front() (or an earlier one)
  detail::ReplyReader reader;
  std::deque<Pending> pending;  // sent or queued, answered in this order
  std::string queued;           // formatted commands not yet handed to the socket
  std::string writing;          // the bytes of the write in progress
  std::array<char, kReadChunk> read_buf{};
  bool write_busy = false;
  bool timer_armed = false;
  bool open = false;    // handshake done: commands may be sent
  bool broken = false;  // failed or closed; never reused
};

}  // namespace

struct RedisClient::Impl : std::enable_shared_from_this<RedisClient::Impl> {
  Impl(asio::any_io_executor ex, RedisSettings s)
      : settings(std::move(s)), strand(asio::make_strand(std::move(ex))), backoff_timer(strand) {}

  const RedisSettings settings;
  const Strand strand;
  asio::steady_timer backoff_timer;  // strand
  std::shared_ptr<Conn> conn;        // strand: the connection being opened or in use
  bool closed = false;               // strand
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> failures{0};

  void start() {
    asio::co_spawn(strand, async_run(shared_from_this()),
                   [](std::exception_ptr e) { report_unexpected(e, "connection loop"); });
  }

  // Any thread.
  void close() {
    connected.store(false, std::memory_order_relaxed);
    asio::post(strand, [self = shared_from_this()] {
      if (self->closed) return;
      self->closed = true;
      self->backoff_timer.cancel();
      if (self->conn) self->fail_connection(self->conn, RedisErrc::shut_down, RedisErrc::shut_down);
    });
  }

  static asio::awaitable<Reply> async_command(std::shared_ptr<Impl> self,
                                              std::vector<std::string> args) {
    auto bytes = detail::format_command(args);
    if (!bytes) {
      self->failures.fetch_add(1, std::memory_order_relaxed);
      co_return bytes.error();
    }
    auto op = asio::async_initiate<decltype(asio::use_awaitable), void(Reply)>(
        Initiate{self}, asio::use_awaitable, std::move(*bytes));
    co_return co_await std::move(op);
  }

 private:
  // Runs on the caller's thread: hands the command to the strand and nothing else.
  struct Initiate {
    std::shared_ptr<Impl> self;
    template <class Handler>
    void operator()(Handler&& handler, std::string bytes) const {
      Completion done(std::forward<Handler>(handler), self->strand);
      asio::post(self->strand,
                 [s = self, done = std::move(done), bytes = std::move(bytes)]() mutable {
                   s->submit(std::move(done), std::move(bytes));
                 });
    }
  };

  void finish(Completion& done, Reply r) {
    if (!r) failures.fetch_add(1, std::memory_order_relaxed);
    done(std::move(r));
  }

  // Strand. Never queues while disconnected: the caller learns at once.
  void submit(Completion done, std::string bytes) {
    if (closed || !conn || !conn->open)
      return finish(done, make_error_code(RedisErrc::unavailable));
    if (conn->pending.size() >= settings.max_pending)
      return finish(done, make_error_code(RedisErrc::too_many_pending));
    conn->pending.push_back(Pending{std::move(done), now() + settings.command_timeout});
    conn->queued += bytes;
    start_write(conn);
    arm_deadline(conn);
  }

  // One write at a time; what is queued meanwhile goes out in the next one (pipelining).
  void start_write(const std::shared_ptr<Conn>& c) {
    if (c->write_busy || c->queued.empty() || c->broken) return;
    c->write_busy = true;
    c->writing.swap(c->queued);
    c->queued.clear();
    asio::async_write(c->socket, asio::buffer(c->writing),
                      [self = shared_from_this(), c](error_code ec, std::size_t) {
                        c->write_busy = false;
                        if (c->broken) return;
                        if (ec)
                          self->fail_connection(c, RedisErrc::unavailable, RedisErrc::unavailable);
                        else
                          self->start_write(c);
                      });
  }

  // The timer need not follow every reply: when it fires it looks at whatever is at the front
  // now, and sleeps again until that command's deadline.
  void arm_deadline(const std::shared_ptr<Conn>& c) {
    if (c->timer_armed || c->pending.empty() || c->broken) return;
    c->timer_armed = true;
    c->timer.expires_at(c->pending.front().deadline);
    c->timer.async_wait([self = shared_from_this(), c](error_code ec) {
      c->timer_armed = false;
      if (ec || c->broken) return;
      if (!c->pending.empty() && c->pending.front().deadline <= now()) {
        // A late reply would be matched to the wrong command: the connection is done for.
        self->fail_connection(c, RedisErrc::timed_out, RedisErrc::unavailable);
        return;
      }
      self->arm_deadline(c);
    });
  }

  // Strand. The first command in flight ends with `first`, the others with `rest`.
  void fail_connection(std::shared_ptr<Conn> c, RedisErrc first, RedisErrc rest) {
    if (c->broken) return;
    c->broken = true;
    if (c->open) connected.store(false, std::memory_order_relaxed);
    c->open = false;
    error_code ignored;
    c->socket.close(ignored);
    c->resolver.cancel();
    c->timer.cancel();
    auto pending = std::exchange(c->pending, {});
    bool front = true;
    for (auto& p : pending) {
      finish(p.done, make_error_code(front ? first : rest));
      front = false;
    }
    if (conn == c) conn.reset();
  }

  // Strand. False when the connection is gone (it has been failed here or before).
  bool on_bytes(const std::shared_ptr<Conn>& c, std::size_t n) {
    if (c->broken) return false;
    if (!c->reader.feed(std::string_view(c->read_buf.data(), n))) {
      fail_connection(c, RedisErrc::protocol_error, RedisErrc::protocol_error);
      return false;
    }
    for (;;) {
      RedisReply reply;
      const auto outcome = c->reader.next(reply);
      if (outcome == detail::ReplyReader::Outcome::need_more) return true;
      // A reply nobody asked for is as unreadable as a malformed one.
      if (outcome == detail::ReplyReader::Outcome::error || c->pending.empty()) {
        fail_connection(c, RedisErrc::protocol_error, RedisErrc::protocol_error);
        return false;
      }
      auto done = std::move(c->pending.front().done);
      c->pending.pop_front();
      finish(done, std::move(reply));
    }
  }

  asio::awaitable<void> async_read_replies(std::shared_ptr<Conn> c) {
    for (;;) {
      auto reading = c->socket.async_read_some(asio::buffer(c->read_buf), kTuple);
      const auto got = co_await std::move(reading);
      if (std::get<0>(got)) {
        fail_connection(c, RedisErrc::unavailable, RedisErrc::unavailable);
        co_return;
      }
      if (!on_bytes(c, std::get<1>(got))) co_return;
    }
  }

  // Resolve, connect, then AUTH, SELECT and PING in one write. PING always: a server that
  // accepts connections but does not answer (stopped, overloaded) is not "connected", so
  // commands fail at once with unavailable instead of each waiting for its timeout.
  //
  // The connect deadline stops this through its cancellation slot. A step that had already
  // completed when the slot fired does not see it (nor does the resolver, which cannot be
  // interrupted), so the attempt checks between steps instead of relying on Asio throwing.
  asio::awaitable<error_code> async_open_unbounded(std::shared_ptr<Conn> c) {
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto cancel = co_await asio::this_coro::cancellation_state;
    const auto stopped = [&cancel, &c] {
      return c->broken || cancel.cancelled() != asio::cancellation_type::none;
    };
    std::vector<tcp::endpoint> endpoints;
    error_code ec;
    const auto address = asio::ip::make_address(settings.host, ec);
    if (!ec) {
      endpoints.emplace_back(address, settings.port);
    } else {
      auto resolving = c->resolver.async_resolve(settings.host, std::to_string(settings.port),
                                                 tcp::resolver::numeric_service, kTuple);
      const auto resolved = co_await std::move(resolving);
      if (std::get<0>(resolved)) co_return std::get<0>(resolved);
      if (stopped()) co_return make_error_code(asio::error::operation_aborted);
      for (const auto& entry : std::get<1>(resolved))
        endpoints.push_back(entry.endpoint());
    }
    auto connecting = asio::async_connect(c->socket, endpoints, kTuple);
    const auto connected_to = co_await std::move(connecting);
    if (std::get<0>(connected_to)) co_return std::get<0>(connected_to);
    if (stopped()) co_return make_error_code(asio::error::operation_aborted);
    // Small commands, pipelined: Nagle would only hold them back.
    c->socket.set_option(tcp::no_delay(true), ec);

    std::vector<std::vector<std::string>> handshake;
    if (!settings.password.empty()) handshake.push_back({"AUTH", settings.password});
    if (settings.db != 0) handshake.push_back({"SELECT", std::to_string(settings.db)});
    handshake.push_back({"PING"});
    std::string bytes;
    for (const auto& cmd : handshake) {
      auto formatted = detail::format_command(cmd);
      if (!formatted) co_return formatted.error();
      bytes += *formatted;
    }
    auto writing = asio::async_write(c->socket, asio::buffer(bytes), kTuple);
    const auto written = co_await std::move(writing);
    if (std::get<0>(written)) co_return std::get<0>(written);
    if (stopped()) co_return make_error_code(asio::error::operation_aborted);

    std::size_t answered = 0;
    while (answered < handshake.size()) {
      auto reading = c->socket.async_read_some(asio::buffer(c->read_buf), kTuple);
      const auto got = co_await std::move(reading);
      if (std::get<0>(got)) co_return std::get<0>(got);
      if (stopped()) co_return make_error_code(asio::error::operation_aborted);
      if (!c->reader.feed(std::string_view(c->read_buf.data(), std::get<1>(got))))
        co_return make_error_code(RedisErrc::protocol_error);
      RedisReply reply;
      for (auto outcome = c->reader.next(reply); outcome != detail::ReplyReader::Outcome::need_more;
           outcome = c->reader.next(reply)) {
        if (outcome == detail::ReplyReader::Outcome::error || answered == handshake.size())
          co_return make_error_code(RedisErrc::protocol_error);
        // Wrong password, database out of range, or the server refuses PING (still loading).
        if (reply.is_error()) co_return make_error_code(asio::error::access_denied);
        ++answered;
      }
    }
    co_return error_code{};
  }

  asio::awaitable<error_code> async_open(std::shared_ptr<Conn> c) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer deadline(strand);
    deadline.expires_after(settings.connect_timeout);
    // Named apart from the co_await: GCC 12 mishandles temporaries that live across a
    // suspension inside one co_await expression.
    auto attempt = async_open_unbounded(c);
    auto expiry = deadline.async_wait(kTuple);
    auto race = std::move(attempt) || std::move(expiry);
    const auto outcome = co_await std::move(race);
    if (outcome.index() == 1) co_return make_error_code(RedisErrc::timed_out);
    co_return std::get<0>(outcome);
  }

  static asio::awaitable<void> async_run(std::shared_ptr<Impl> self) {
    using namespace std::chrono_literals;
    // A zero backoff would spin; a maximum below the minimum would shrink it.
    const std::chrono::milliseconds floor = std::max(self->settings.backoff_min, 1ms);
    const std::chrono::milliseconds ceiling = std::max(self->settings.backoff_max, floor);
    std::chrono::milliseconds backoff = floor;
    bool had_connection = false;
    while (!self->closed) {
      auto c = std::make_shared<Conn>(self->strand);
      self->conn = c;
      const error_code ec = co_await self->async_open(c);
      if (!ec && !c->broken && !self->closed) {
        c->open = true;
        self->connected.store(true, std::memory_order_relaxed);
        if (had_connection) self->reconnects.fetch_add(1, std::memory_order_relaxed);
        had_connection = true;
        backoff = floor;
        co_await self->async_read_replies(c);  // until the connection breaks or close()
      } else {
        self->fail_connection(c, RedisErrc::unavailable, RedisErrc::unavailable);
      }
      if (self->closed) break;
      self->backoff_timer.expires_after(backoff);
      auto waiting = self->backoff_timer.async_wait(kTuple);
      co_await std::move(waiting);
      backoff = std::min(backoff * 2, ceiling);
    }
  }
};

RedisClient::RedisClient(boost::asio::any_io_executor ex, RedisSettings settings)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(settings))) {
  impl_->start();
}

RedisClient::~RedisClient() {
  close();
}

boost::asio::awaitable<boost::system::result<RedisReply>> RedisClient::async_command(
    std::vector<std::string> args) {
  // Not a coroutine itself: the operation holds the Impl, not this object, so it may outlive
  // the RedisClient.
  return Impl::async_command(impl_, std::move(args));
}

bool RedisClient::connected() const noexcept {
  return impl_->connected.load(std::memory_order_relaxed);
}

std::uint64_t RedisClient::reconnects() const noexcept {
  return impl_->reconnects.load(std::memory_order_relaxed);
}

std::uint64_t RedisClient::failures() const noexcept {
  return impl_->failures.load(std::memory_order_relaxed);
}

void RedisClient::close() {
  impl_->close();
}

}  // namespace stella::gw::redis
