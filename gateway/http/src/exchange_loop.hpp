// The HTTP/1.1 exchange loop of one client connection: parse a head, run the pipeline's
// stages, forward through the UpstreamForwarder or answer directly, write the answer, keep
// the connection alive or close it — and, once per request, on_complete (request_completion).
//
// Pieces: ClientConnection (socket, buffer, reader, deadlines, writes), UpstreamForwarder
// (the service side), this loop (HTTP semantics). docs/http.md describes the limits, timeouts
// and answers.
#pragma once

#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <charconv>
#include <cstring>

#include "client_connection.hpp"
#include "request_completion.hpp"
#include "stella/gateway/http_method.hpp"
#include "upstream_forwarder.hpp"

namespace stella::gw::http {

namespace bhttp = boost::beast::http;

/// While a client pauses mid-upload, how often the exchange looks for the service's answer.
inline constexpr core::Duration kUpstreamPollInterval = std::chrono::milliseconds(20);
/// Bytes of a request body sent inline in the REQUEST frame; larger bodies stream.
inline constexpr std::size_t kInlineBody = 64 * 1024;

bool valid_field_name(std::string_view n) noexcept;
bool valid_field_value(std::string_view v) noexcept;
/// Headers a service may not set on the client response: framing is the gateway's.
bool hop_by_hop_response(std::string_view name) noexcept;

template <class Stream>
class ExchangeLoop final : public HttpConnectionBase,
                           public ConnectionEvents,
                           public std::enable_shared_from_this<ExchangeLoop<Stream>> {
 public:
  ExchangeLoop(WorkerContext& w, Stream stream, ConnectionFacts facts)
      : w_(w),
        s_(*w.shared.config),
        conn_(w, std::move(stream),
              // Room for one maximal head plus a read; more is back-pressure.
              w.shared.head_limits.max_header_bytes + ClientConnection<Stream>::kReadChunk,
              s_.http.max_pipelined),
        fwd_(*w.shared.hub, w.io.get_executor(), w.spare_calls, w.metrics),
        // Without credit (routing.streamWindow 0) an answer waiting for its turn would grow
        // until the hub's bound fails it: one request at a time then.
        depth_(s_.routing.stream_window == 0 ? 1 : std::max<std::size_t>(s_.http.max_pipelined, 1)),
        facts_(std::move(facts)),
        parser_(w.shared.head_limits) {
    w_.connections.insert(this);
  }
  ~ExchangeLoop() override {
    w_.connections.erase(this);
    w_.shared.connections.fetch_sub(1, std::memory_order_relaxed);
  }

  asio::awaitable<void> run() {
    auto self = this->shared_from_this();
    conn_.start(*this, self);
    bool ended = false;
    try {
      co_await process();
      ended = true;
    } catch (const std::exception& e) {
      w_.shared.log(std::string("http connection failed: ") + e.what());
      if (in_exchange_) finish_exchange(Outcome::internal_error, 500);
    }
    try {
      abandon_ahead();
    } catch (const std::exception& e) {
      w_.shared.log(std::string("http connection failed: ") + e.what());
    }
    // close_notify only after a whole answer: a cut one (the service failed mid-stream) must not
    // look complete, and for a close-delimited HTTP/1.0 body close_notify says "complete".
    if (ended && answered_) {
      try {
        co_await conn_.finish();
      } catch (const std::exception&) {  // out of memory: close without it
      }
    }
    conn_.close();
  }

  // HttpConnectionBase
  void on_drain() override {
    draining_ = true;
    if (!busy_ && conn_.empty()) conn_.close();
  }
  void abort() override { conn_.close(); }

  // ConnectionEvents
  void on_peer_closed() override { cancel_all(); }
  void on_response_deadline() override { fwd_.interrupt(); }
  void on_closing() override { cancel_all(); }

 private:
  // ---- the loop ----------------------------------------------------------------------------
  asio::awaitable<void> process() {
    const auto& http = s_.http;
    for (;;) {
      busy_ = false;
      conn_.clear_expired();
      if (draining_ && conn_.empty()) co_return;
      parser_.reset();
      ahead_partial_ = false;
      conn_.set_deadline(Deadline::idle, http.idle_timeout);
      bool header_armed = false;
      ParseStatus st;
      for (;;) {
        st = parser_.parse(conn_.pending(), head_);
        if (st != ParseStatus::need_more) break;
        if (!header_armed && parser_.started()) {
          conn_.set_deadline(Deadline::header, http.header_timeout);
          header_armed = true;
        }
        if (conn_.closed() || conn_.peer_closed()) co_return;
        // Waiting for the client with nothing in flight: the slots of requests once forwarded
        // ahead go (an idle connection holds none of them).
        if (conn_.empty() && !ahead_.empty()) ahead_ = decltype(ahead_)();
        if (conn_.expired() == Deadline::header) {
          begin_exchange();
          assign_correlation_id(RequestHead{}, w_.rng, ex_->proxy);
          co_await respond_problem(request_timeout(), false);
          complete();
          co_return;
        }
        co_await conn_.wait_data();
      }
      busy_ = true;
      begin_exchange();
      if (st == ParseStatus::error) {
        const auto& e = parser_.error();
        assign_correlation_id(RequestHead{}, w_.rng, ex_->proxy);
        co_await respond_problem(
            from_http_error(e.status, e.reason, s_.routing.max_request_body_size), false);
        complete();
        co_return;
      }
      bool keep = co_await handle();
      complete();
      // The pipelined requests forwarded while that one was answered: their answers, in order.
      // (Any still waiting when the connection ends are abandoned by run().)
      while (keep && !conn_.closed() && ahead_count_ > 0) {
        // (No structured binding, no co_await in a conditional: GCC 12 miscompiles both.)
        const Taken taken = take_ahead();
        if (taken.staged)
          keep = co_await answer_staged(false);
        else
          keep = co_await forward(false, false, 0, taken.forwarded_at);
        complete();
      }
      if (!keep || conn_.closed()) co_return;
    }
  }

  void begin_exchange() {
    begin(ex_);
    in_exchange_ = true;
    answered_ = false;
  }
  void begin(std::unique_ptr<Exchange>& ex) {
    if (!ex) ex = w_.exchanges.take();
    ex->reset();
    ex->times.head = w_.shared.clock->now();
    ex->wall_start_unix_nano = core::wall_clock_unix_nano();
  }
  void complete() {
    if (!in_exchange_) return;
    in_exchange_ = false;
    end(ex_);
  }
  void end(std::unique_ptr<Exchange>& ex) {
    ex->times.end = w_.shared.clock->now();
    on_complete(*ex, w_);
    // Back to the pool without what the request held (route snapshot, identity, reply), and
    // not at all when it kept a large body buffer (a refused upload): pooled exchanges live as
    // long as the worker.
    ex->reset();
    if (ex->proxy.frame.body.capacity() <= kInlineBody && ex->head_out.capacity() <= kInlineBody)
      w_.exchanges.give(std::move(ex));
    else
      ex.reset();
  }
  void finish_exchange(Outcome o, unsigned status) {
    ex_->outcome = o;
    ex_->status = status;
    complete();
  }

  // Runs the stages; answers or forwards. Returns whether the connection stays open.
  asio::awaitable<bool> handle() {
    take_head(*ex_);
    const std::size_t head_size = head_.size;
    const bool has_body = head_.has_body();
    const bool chunked = head_.chunked;
    const std::uint64_t content_length = head_.content_length.value_or(0);
    const bool expect_continue = head_.expect_continue;
    // Requests pipelined behind this one may be forwarded while it is answered only if it and
    // they are all safe (RFC 9112 §9.3.2), and bodyless (their bytes follow its head at once).
    chain_ = chains(*ex_) && !has_body && is_safe_method(head_.method);

    // The stages read the head's views: the buffer stays put until they are done.
    conn_.pin(true);
    StageContext ctx{head_, facts_, w_};
    std::size_t at = 0;
    StageStatus st = run_stages(*ex_, ctx, at);
    if (st == StageStatus::suspend) st = co_await finish_stages(*ex_, ctx, at);
    conn_.pin(false);
    // From here on nothing refers to the head's views: the buffer may move.
    conn_.consume(head_size);
    if (conn_.closed()) {
      ex_->outcome = Outcome::client_closed;
      ex_->status = 499;
      co_return false;
    }

    if (st == StageStatus::respond) co_return co_await answer_staged(has_body);
    if (expect_continue && has_body && ex_->http_minor == 1) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      const auto sent = co_await conn_.write(asio::buffer(kContinue));
      if (std::get<0>(sent)) {
        ex_->outcome = Outcome::client_closed;
        ex_->status = 499;
        co_return false;
      }
    }
    co_return co_await forward(has_body, chunked, content_length);
  }

  void take_head(Exchange& ex) {
    ex.method.assign(head_.method);
    ex.http_minor = head_.version_minor;
    ex.head_request = head_.method == "HEAD";
    ex.keep_alive = head_.keep_alive && !draining_;
  }
  /// Runs the stages from stage `at` on while they answer at once; stops at the first that
  /// answers the request (respond) or must wait (suspend: `at` names it, for its async_run).
  StageStatus run_stages(Exchange& ex, StageContext& ctx, std::size_t& at) {
    const auto& stages = w_.shared.stages->stages();
    for (; at < stages.size(); ++at) {
      const StageStatus st = stages[at]->run(ex, ctx);
      if (st != StageStatus::next) return st;
    }
    return StageStatus::next;
  }
  /// From the stage `at` that must wait on: its async_run, then the rest as run_stages() does.
  /// (A coroutine of its own, so a request whose stages all answer at once pays for no frame.)
  asio::awaitable<StageStatus> finish_stages(Exchange& ex, StageContext& ctx, std::size_t at) {
    StageStatus st = StageStatus::suspend;
    while (st == StageStatus::suspend) {
      st = co_await w_.shared.stages->stages()[at]->async_run(ex, ctx);
      if (st != StageStatus::respond) st = run_stages(ex, ctx, ++at);
    }
    co_return st;
  }
  /// The answer a stage made: a direct reply (management endpoints) or a problem.
  asio::awaitable<bool> answer_staged(bool has_body) {
    if (ex_->reply) {
      if (has_body) ex_->keep_alive = false;
      co_return co_await respond_reply(*ex_->reply);
    }
    Problem& p = *ex_->problem;
    // A refused request with a body: its bytes cannot be skipped safely without reading
    // them, so the connection closes after the answer.
    if (has_body) p.close = true;
    co_return co_await respond_problem(p, !p.close);
  }

  // ---- pipelined requests forwarded ahead -----------------------------------------------
  // While a safe request waits for its answer, the complete safe, bodyless heads pipelined
  // behind it are parsed, run through the stages and forwarded at once, up to
  // http.maxPipelinedRequests requests in flight on the connection; their answers are written
  // in order, each when the one before it is out (docs/http.md, "Pipelining and keep-alive").
  struct Ahead {
    explicit Ahead(WorkerContext& w)
        : fwd(*w.shared.hub, w.io.get_executor(), w.spare_calls, w.metrics) {}
    std::unique_ptr<Exchange> ex;
    UpstreamForwarder fwd;
    std::optional<core::TimePoint> forwarded_at;  // when its REQUEST went out (if it did)
    bool staged = false;                          // a stage answered it (ex->reply or ex->problem)
  };
  struct Taken {
    bool staged;
    std::optional<core::TimePoint> forwarded_at;
  };

  bool may_read_ahead() const noexcept {
    return chain_ && ahead_count_ + 1 < depth_ && !conn_.empty() && !draining_ && !conn_.closed() &&
           !conn_.peer_closed();
  }

  asio::awaitable<void> read_ahead() {
    while (may_read_ahead()) {
      // An incomplete head is taken up again at the next look, where its parse left off.
      if (!ahead_partial_) parser_.reset();
      const ParseStatus ps = parser_.parse(conn_.pending(), head_);
      ahead_partial_ = ps == ParseStatus::need_more;
      if (ahead_partial_) co_return;
      // A malformed head, one with a body and an unsafe method wait for their turn in the
      // loop, and nothing behind them is read ahead.
      if (ps == ParseStatus::error || head_.has_body() || !is_safe_method(head_.method)) {
        chain_ = false;
        co_return;
      }
      if (ahead_count_ == ahead_.size()) ahead_.push_back(std::make_unique<Ahead>(w_));
      Ahead& a = *ahead_[ahead_count_];
      begin(a.ex);
      take_head(*a.ex);
      a.staged = false;
      a.forwarded_at.reset();
      ++ahead_count_;  // (from here on abandon_ahead() completes it)
      conn_.pin(true);
      StageContext ctx{head_, facts_, w_};
      std::size_t at = 0;
      StageStatus st = run_stages(*a.ex, ctx, at);
      const bool waited = st == StageStatus::suspend;
      if (waited) st = co_await finish_stages(*a.ex, ctx, at);
      conn_.pin(false);
      conn_.consume(head_.size);
      a.staged = st == StageStatus::respond;
      if (a.staged) {
        if (a.ex->problem && a.ex->problem->close) a.ex->keep_alive = false;
      } else if (!conn_.closed() && !conn_.peer_closed()) {
        // (Otherwise not forwarded: forward() sends it in its turn, if that comes.)
        a.forwarded_at = w_.shared.clock->now();
        a.ex->times.upstream_sent = *a.forwarded_at;
        a.fwd.start(*a.ex->proxy.pick, std::move(a.ex->proxy.frame), true);
      }
      chain_ = chains(*a.ex);
      // A stage that had to wait (a shared rate-limit or replay check) delayed the answer being
      // written: one such wait per look, the rest at the next.
      if (waited) co_return;
    }
  }
  /// A request behind `ex` may be read ahead: the connection outlives its answer (HTTP/1.1,
  /// kept alive; an HTTP/1.0 answer may end the connection to delimit its body).
  static bool chains(const Exchange& ex) noexcept { return ex.keep_alive && ex.http_minor == 1; }

  /// The oldest request forwarded ahead becomes the one being answered.
  Taken take_ahead() {
    Ahead& a = *ahead_.front();
    if (fwd_.active()) fwd_.cancel(core::CancelReason::client_disconnected);
    fwd_.finish();
    fwd_.swap_call(a.fwd);
    ex_ = std::move(a.ex);
    in_exchange_ = true;
    answered_ = false;
    conn_.clear_expired();  // a deadline of the answer before is not this one's
    const Taken taken{a.staged, a.forwarded_at};
    std::rotate(ahead_.begin(), ahead_.begin() + 1,
                ahead_.begin() + static_cast<std::ptrdiff_t>(ahead_count_));
    --ahead_count_;
    return taken;
  }

  /// The connection ends before their answers: requests forwarded ahead are cancelled and
  /// complete as client_closed (499), as a request whose client left.
  void abandon_ahead() {
    cancel_all();
    const std::size_t n = std::exchange(ahead_count_, 0);
    for (std::size_t i = 0; i < n; ++i) {
      Ahead& a = *ahead_[i];
      a.fwd.finish();
      if (!a.ex) continue;
      a.ex->outcome = Outcome::client_closed;
      a.ex->status = 499;
      end(a.ex);
    }
  }

  void cancel_all() {
    if (fwd_.active()) fwd_.cancel(core::CancelReason::client_disconnected);
    for (std::size_t i = 0; i < ahead_count_; ++i)
      if (ahead_[i]->fwd.active()) ahead_[i]->fwd.cancel(core::CancelReason::client_disconnected);
  }

  // ---- request body --------------------------------------------------------------------------
  // Reads body bytes into `out` until it has `want` more bytes or the body ends.
  // 1: body complete, 0: more to come, -1: failed (answered, or the client left), 2: while
  // waiting for the client the service sent something other than CREDIT (its answer, a
  // failure): it is in upstream_part_ (only with `watch_upstream`, while the body streams out).
  asio::awaitable<int> read_body(bool chunked, std::uint64_t& remaining, ChunkedDecoder& decoder,
                                 std::string& out, std::size_t want, bool watch_upstream = false) {
    bool armed = false;  // the body deadline runs for the current wait (set once per wait)
    while (out.size() < want) {
      if (conn_.empty()) {
        if (conn_.closed() || conn_.peer_closed()) {
          ex_->outcome = Outcome::client_closed;
          ex_->status = 499;
          co_return -1;
        }
        if (conn_.expired() == Deadline::body) {
          if (watch_upstream && upload_deadline_ && w_.shared.clock->now() >= *upload_deadline_) {
            conn_.clear_expired();
            fwd_.cancel(core::CancelReason::timeout);
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                s_.routing.max_stream_duration)
                                .count();
            co_await respond_problem(
                gateway_timeout("the request exceeded routing.maxStreamDuration (" +
                                std::to_string(ms) + " ms) while its body was uploading"),
                false);
            co_return -1;
          }
          co_await respond_problem(request_timeout(), false);
          co_return -1;
        }
        if (!armed) {
          core::Duration wait = s_.http.body_timeout;
          if (watch_upstream && upload_deadline_)
            wait = std::min(wait, *upload_deadline_ - w_.shared.clock->now());
          conn_.set_deadline(Deadline::body, wait);
          armed = true;
        }
        if (watch_upstream && fwd_.active()) {
          // Waiting for the client, but not deaf to the service: its answer (or a failure) ends
          // the upload, and CREDIT is taken as it comes. A short wait, then a look at the
          // call's channel: racing the two waits could drop a part both delivered at once.
          co_await conn_.wait_data_for(kUpstreamPollInterval);
          std::tuple<boost::system::error_code, UpstreamPart> polled;
          while (fwd_.try_next_part(polled)) {
            if (!std::get<0>(polled) && std::get<1>(polled).kind == UpstreamPart::Kind::credit) {
              fwd_.credited(std::get<1>(polled).credit);
              continue;
            }
            upstream_part_ = std::make_unique<std::tuple<boost::system::error_code, UpstreamPart>>(
                std::move(polled));
            co_return 2;
          }
          continue;
        }
        co_await conn_.wait_data();
        continue;
      }
      armed = false;
      std::string_view in = conn_.pending();
      if (!chunked) {
        const std::size_t n = static_cast<std::size_t>(
            std::min<std::uint64_t>({remaining, in.size(), want - out.size()}));
        out.append(in.data(), n);
        conn_.consume(n);
        ex_->bytes_in += n;
        remaining -= n;
        if (remaining == 0) co_return 1;
        continue;
      }
      const std::size_t before = out.size();
      const auto r = decoder.decode(in.substr(0, std::min(in.size(), want - out.size() + 64)), out);
      conn_.consume(r.consumed);
      ex_->bytes_in += out.size() - before;
      if (r.status == ParseStatus::done) co_return 1;
      if (r.status == ParseStatus::error) {
        const auto& e = decoder.error();
        co_await respond_problem(
            from_http_error(e.status, e.reason, s_.routing.max_request_body_size), false);
        co_return -1;
      }
    }
    co_return 0;
  }

  // ---- transport ---------------------------------------------------------------------------
  /// How long to wait for the next response part. The endpoint timeout bounds the time from the
  /// end of the request body (`body_sent`) to the head; after the head, for an endpoint that
  /// declares `streaming`, it bounds the gap between parts (a stream that keeps flowing is not
  /// cut), for any other the whole response. routing.maxStreamDuration, when set, bounds the
  /// whole exchange from the REQUEST (`started_at`) in every case.
  core::Duration response_deadline(core::TimePoint started_at, core::TimePoint body_sent,
                                   core::Duration timeout, bool after_part) const {
    const core::TimePoint now = w_.shared.clock->now();
    const auto* endpoint = ex_->proxy.pick ? ex_->proxy.pick->instance->endpoint.get() : nullptr;
    const bool gap = after_part && endpoint != nullptr && endpoint->streaming;
    core::Duration next = gap ? timeout : timeout - (now - body_sent);
    if (const auto max = s_.routing.max_stream_duration; max > core::Duration::zero())
      next = std::min(next, max - (now - started_at));
    return next;
  }

  // `forwarded_at`: set for a request forwarded ahead (bodyless; its call is in fwd_); when
  // not set, the request goes out here.
  asio::awaitable<bool> forward(bool has_body, bool chunked, std::uint64_t content_length,
                                std::optional<core::TimePoint> forwarded_at = std::nullopt) {
    const bool ahead = forwarded_at.has_value();
    std::uint64_t remaining = content_length;
    ChunkedDecoder decoder(s_.routing.max_request_body_size, w_.shared.head_limits);
    // With streaming off the whole body travels in the REQUEST frame (its size was bounded at
    // config load to fit one frame).
    const std::size_t inline_limit =
        s_.routing.streaming_enabled ? kInlineBody : s_.routing.max_request_body_size + 1;
    int body_state = has_body ? 0 : 1;
    if (has_body) {
      body_state =
          co_await read_body(chunked, remaining, decoder, ex_->proxy.frame.body, inline_limit);
      if (body_state < 0) co_return false;
      if (body_state == 0 && !s_.routing.streaming_enabled) {  // chunked past the limit
        co_return co_await respond_problem(payload_too_large(s_.routing.max_request_body_size),
                                           false);
      }
    }
    // A request forwarded ahead: its time to the head counts from when it went out; after the
    // head, from its turn (it may have waited behind other answers, its own parts buffered or
    // paused for credit meanwhile).
    const core::TimePoint turn_at = w_.shared.clock->now();
    const auto started_at = ahead ? *forwarded_at : turn_at;
    if (!ahead) {
      ex_->times.upstream_sent = started_at;
      // Moved, not copied: from here on ex_->proxy.path (not .frame) names the request.
      fwd_.start(*ex_->proxy.pick, std::move(ex_->proxy.frame), body_state == 1);
    }
    const core::Duration timeout = ex_->proxy.timeout;
    // A part that arrived while the body was going out: the service answered (or failed)
    // before taking all of it, and the upload ends there.
    std::optional<std::tuple<boost::system::error_code, UpstreamPart>> early;
    bool credit_timed_out = false;  // the service took no more of the body within the timeout
    if (body_state == 0 && s_.routing.max_stream_duration > core::Duration::zero())
      upload_deadline_ = started_at + s_.routing.max_stream_duration;
    while (body_state == 0) {
      // What the service sent meanwhile: CREDIT, or an answer that ends the upload.
      std::tuple<boost::system::error_code, UpstreamPart> polled;
      bool answered = false;
      while (fwd_.try_next_part(polled)) {
        if (!std::get<0>(polled) && std::get<1>(polled).kind == UpstreamPart::Kind::credit) {
          fwd_.credited(std::get<1>(polled).credit);
          continue;
        }
        early = std::move(polled);
        answered = true;
        break;
      }
      if (answered) break;
      if (!fwd_.may_send_body()) {
        // The service has not taken what it was sent: wait for its CREDIT without reading the
        // client (its bytes stay in its socket: back-pressure). The endpoint timeout bounds each
        // wait, as it bounds the gap between response parts.
        conn_.set_deadline(Deadline::response,
                           response_deadline(started_at, w_.shared.clock->now(), timeout, false));
        std::tuple<boost::system::error_code, UpstreamPart> waited{asio::error::operation_aborted,
                                                                   UpstreamPart{}};
        if (fwd_.active()) waited = co_await fwd_.next_part();
        conn_.clear_deadline();
        if (!std::get<0>(waited) && std::get<1>(waited).kind == UpstreamPart::Kind::credit) {
          fwd_.credited(std::get<1>(waited).credit);
          continue;
        }
        credit_timed_out = std::get<0>(waited) && conn_.expired() == Deadline::response;
        early = std::move(waited);
        break;
      }
      std::string chunk;
      body_state = co_await read_body(chunked, remaining, decoder, chunk,
                                      s_.routing.streaming_buffer_size, true);
      if (body_state == 2) {
        early = std::move(*upstream_part_);
        upstream_part_.reset();
        break;
      }
      if (body_state < 0) {
        upload_deadline_.reset();
        fwd_.cancel(core::CancelReason::client_disconnected);
        co_return false;
      }
      fwd_.send_body(std::move(chunk), body_state == 1);
    }
    upload_deadline_.reset();
    if (early) ex_->keep_alive = false;  // the rest of the body stays unread
    const core::TimePoint body_sent = ahead ? started_at : w_.shared.clock->now();
    if (body_state == 1 && !early) ex_->times.body_sent = body_sent;
    if (may_read_ahead()) co_await read_ahead();
    conn_.set_deadline(Deadline::response,
                       response_deadline(started_at, body_sent, timeout, false));
    bool head_written = false;
    bool retried = false;
    std::uint64_t response_bytes = 0;
    const std::uint64_t max_response = s_.routing.max_response_body_size;  // 0: no limit
    for (;;) {
      // Not a structured binding: GCC 12 miscompiles them around co_await in some frames.
      std::tuple<boost::system::error_code, UpstreamPart> received;
      if (early) {
        received = std::move(*early);
        early.reset();
      } else if (!fwd_.active()) {  // cancelled meanwhile (the client left, say)
        received = {asio::error::operation_aborted, UpstreamPart{}};
      } else {
        received = co_await fwd_.next_part();
      }
      const boost::system::error_code ec = std::get<0>(received);
      UpstreamPart& part = std::get<1>(received);
      if (!ec && part.kind == UpstreamPart::Kind::credit) continue;  // the body is all out
      if (ec) {
        if (conn_.expired() == Deadline::response) {
          conn_.clear_expired();
          fwd_.cancel(core::CancelReason::timeout);
          if (head_written) {  // cut: never a body that looks complete
            ex_->outcome = Outcome::upstream_timeout;
            co_return false;
          }
          fwd_.finish();  // the connection may stay open: it holds no call (nor its parts)
          const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
          std::string detail = credit_timed_out
                                   ? std::string(ex_->service()) +
                                         " took no more of the request body within " +
                                         std::to_string(ms) + " ms (no CREDIT)"
                                   : "no response from " + std::string(ex_->service()) +
                                         " within " + std::to_string(ms) + " ms";
          co_return co_await respond_problem(gateway_timeout(std::move(detail)), ex_->keep_alive);
        }
        fwd_.finish();
        if (conn_.closed() || conn_.peer_closed()) {
          ex_->outcome = Outcome::client_closed;
          ex_->status = 499;
        } else {  // the hub closed the channel: the client reads too slowly
          ex_->outcome = Outcome::upstream_overflow;
          if (!head_written) ex_->status = 502;
        }
        co_return false;
      }
      const std::size_t bytes = part.head.body.size() + part.data.size();
      response_bytes += bytes;
      if (max_response != 0 && response_bytes > max_response &&
          part.kind != UpstreamPart::Kind::failed) {
        fwd_.cancel(core::CancelReason::handler_failed);
        ex_->outcome = Outcome::upstream_bad_response;
        if (head_written) co_return false;  // cut: never a body that looks complete
        fwd_.finish();
        co_return co_await respond_problem(
            make_problem(Outcome::upstream_bad_response,
                         "the response body exceeds routing.maxResponseBodySize (" +
                             std::to_string(max_response) + " bytes)"),
            ex_->keep_alive);
      }
      if (part.kind == UpstreamPart::Kind::failed && part.returned && !retried) {
        // Nothing ran: send it once more, to another instance (the one that refused it is
        // draining or full, which the selector avoids).
        retried = true;
        // The selector's own pick, not this worker's twin of it: the refusing connection may
        // be that twin.
        ex_->proxy.pick =
            pick_instance(*ex_->proxy.lookup.route, w_.shared.selector, w_.rng, w_.scratch);
        if (ex_->proxy.pick) {
          fwd_.finish();
          fwd_.start(*ex_->proxy.pick, std::move(*part.returned), true);
          continue;
        }
      }
      if (part.kind == UpstreamPart::Kind::failed) {
        fwd_.finish();
        conn_.clear_deadline();
        if (head_written || part.response_started) {
          ex_->outcome = part.failure == UpstreamPart::Failure::overflow
                             ? Outcome::upstream_overflow
                             : Outcome::instance_lost;
          if (!head_written) ex_->status = 502;
          co_return false;
        }
        if (part.failure == UpstreamPart::Failure::not_ready)
          co_return co_await respond_problem(unavailable(part.detail), ex_->keep_alive);
        co_return co_await respond_problem(bad_gateway(part.detail), ex_->keep_alive);
      }
      bool ok = true;
      if (part.kind == UpstreamPart::Kind::head) {
        ex_->times.upstream_head = part.arrived;
        const unsigned status = part.head.status;
        if (status < 200 || status > 599) {
          // Informational or out-of-range final statuses never reach the client.
          fwd_.cancel(core::CancelReason::handler_failed);
          fwd_.finish();
          w_.shared.log("instance " + std::string(ex_->instance_id()) + " of " +
                        std::string(ex_->service()) + " answered status " + std::to_string(status) +
                        ": answered 502");
          const Problem invalid = make_problem(
              Outcome::upstream_bad_response,
              "the instance answered with an invalid status (" + std::to_string(status) + ")");
          co_return co_await respond_problem(invalid, ex_->keep_alive);
        }
        ex_->outcome = Outcome::ok;
        ex_->status = status;
        ok = co_await write_head(part.head, part.end_stream);
        head_written = true;
        fwd_.keep_head(std::move(part.head), ex_->proxy.frame);
      } else {
        ok = co_await write_chunk(part.data, part.end_stream);
      }
      fwd_.written(bytes, part.kind == UpstreamPart::Kind::data);
      if (!ok) {
        fwd_.cancel(core::CancelReason::client_disconnected);
        ex_->outcome = Outcome::client_closed;
        ex_->status = 499;
        co_return false;
      }
      if (part.end_stream) break;
      if (may_read_ahead()) co_await read_ahead();
      const core::Duration next = response_deadline(std::max(started_at, turn_at),
                                                    std::max(body_sent, turn_at), timeout, true);
      if (next <= core::Duration::zero()) {
        fwd_.cancel(core::CancelReason::timeout);
        ex_->outcome = Outcome::upstream_timeout;  // cut: the head went out
        co_return false;
      }
      conn_.set_deadline(Deadline::response, next);
    }
    fwd_.finish();
    conn_.clear_deadline();
    co_return ex_->keep_alive;
  }

  // ---- writing -------------------------------------------------------------------------------
  void add_headers(bhttp::fields& f, const std::vector<core::Header>& headers) {
    for (const auto& h : headers) {
      if (!valid_field_name(h.name) || !valid_field_value(h.value) || hop_by_hop_response(h.name))
        continue;
      f.insert(h.name, h.value);
    }
    add_gateway_headers(f);
  }
  void add_gateway_headers(bhttp::fields& f) {
    f.set("X-Correlation-Id", ex_->proxy.correlation_id);
    ensure_trace_ids();
    f.set("traceparent",
          format_traceparent(ex_->trace.trace_id, ex_->trace.span_id, ex_->trace.flags));
    for (const auto& [name, value] : ex_->response_headers)
      f.set(name, value);
  }
  void ensure_trace_ids() {
    if (ex_->trace.trace_id == decltype(ex_->trace.trace_id){}) {
      // Refused before the trace-context stage (a malformed head, a head timeout): a trace of
      // its own, never the invalid all-zero one.
      for (std::size_t i = 0; i < ex_->trace.trace_id.size(); i += 8) {
        const std::uint64_t bits = w_.rng.next();
        std::memcpy(ex_->trace.trace_id.data() + i, &bits, 8);
      }
      const std::uint64_t span = w_.rng.next() | 1;  // never zero
      std::memcpy(ex_->trace.span_id.data(), &span, 8);
    }
  }
  /// The response head as Beast would write it for add_headers() + keep_alive() +
  /// prepare_payload(): status line, the service's fields (minus those add_headers drops and
  /// those the gateway sets), X-Correlation-Id, traceparent, the stages' response headers,
  /// Connection when the version's default does not hold, Content-Length.
  void render_head(unsigned status, const std::vector<core::Header>& headers,
                   std::size_t content_length) {
    std::string& h = ex_->head_out;
    h.clear();
    h += ex_->http_minor == 1 ? "HTTP/1.1 " : "HTTP/1.0 ";
    char digits[3] = {static_cast<char>('0' + status / 100 % 10),
                      static_cast<char>('0' + status / 10 % 10),
                      static_cast<char>('0' + status % 10)};
    h.append(digits, 3);
    h += ' ';
    h += reason_of(status);
    h += "\r\n";
    const auto field = [&h](std::string_view name, std::string_view value) {
      h += name;
      h += ": ";
      h += value;
      h += "\r\n";
    };
    for (const auto& hd : headers) {
      if (!valid_field_name(hd.name) || !valid_field_value(hd.value) ||
          hop_by_hop_response(hd.name))
        continue;
      bool replaced = false;  // a stage's response header of the same name wins
      for (const auto& rh : ex_->response_headers)
        replaced = replaced || core::iequals_ascii(rh.first, hd.name);
      if (!replaced) field(hd.name, hd.value);
    }
    ensure_trace_ids();
    field("X-Correlation-Id", ex_->proxy.correlation_id);
    h += "traceparent: ";
    append_traceparent(h, ex_->trace.trace_id, ex_->trace.span_id, ex_->trace.flags);
    h += "\r\n";
    for (const auto& [name, value] : ex_->response_headers)
      field(name, value);
    if (ex_->http_minor == 1 && !ex_->keep_alive) field("Connection", "close");
    if (ex_->http_minor != 1 && ex_->keep_alive) field("Connection", "keep-alive");
    char length[24];
    const auto end = std::to_chars(length, length + sizeof length, content_length).ptr;
    field("Content-Length", std::string_view(length, static_cast<std::size_t>(end - length)));
    h += "\r\n";
  }
  static std::string_view reason_of(unsigned status) {
    const auto known = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    if (known != "<unknown-status>") return {known.data(), known.size()};
    static constexpr std::string_view kClass[] = {
        "", "Informational", "Success", "Redirection", "Client Error", "Server Error"};
    return status / 100 < 6 ? kClass[status / 100] : std::string_view();
  }
  int version() const noexcept { return ex_->http_minor == 1 ? 11 : 10; }
  /// Beast writes "<unknown-status>" as the reason phrase of codes it has no name for (418,
  /// 425, 599, ...); those get the name of their class instead (RFC 9110 §15: "Client Error").
  static void known_reason_only(bhttp::response_header<>& f) {
    if (bhttp::obsolete_reason(f.result()) != "<unknown-status>") return;
    static constexpr std::string_view kClass[] = {
        "", "Informational", "Success", "Redirection", "Client Error", "Server Error"};
    const unsigned cls = f.result_int() / 100;
    f.reason(cls < 6 ? kClass[cls] : "");
  }
  static bool bodyless(unsigned status) noexcept {
    return status == 204 || status == 304 || status < 200;
  }

  // Not a coroutine itself: it picks one, so the common answer pays only for write_whole's small
  // frame (a coroutine frame holds every branch's locals; Beast's serializers make
  // write_beast's too large for Asio's frame recycling, so each call would be a malloc).
  asio::awaitable<bool> write_head(core::Response& r, bool end_stream) {
    // Shutting down: this answer is the last (after those of requests already forwarded ahead).
    if (draining_ && ahead_count_ == 0) ex_->keep_alive = false;
    if (bodyless(r.status)) r.body.clear();
    if (end_stream && !bodyless(r.status) && !ex_->head_request) return write_whole(r);
    return write_beast(r, end_stream);
  }

  // The common answer (whole, with a body): head written into the exchange's own string (pooled,
  // so its capacity is reused) and sent with the body in one gathered write.
  asio::awaitable<bool> write_whole(core::Response& r) {
    render_head(r.status, r.headers, r.body.size());
    ex_->bytes_out += r.body.size();
    const std::array<asio::const_buffer, 2> out{asio::buffer(ex_->head_out), asio::buffer(r.body)};
    const auto written = co_await conn_.write(out);
    answered_ = !std::get<0>(written);
    co_return answered_;
  }

  // Streamed answers, HEAD, 204/304 and informational statuses, through Beast's serializer.
  asio::awaitable<bool> write_beast(core::Response& r, bool end_stream) {
    const auto status = static_cast<bhttp::status>(r.status);
    if (end_stream || bodyless(r.status)) {
      bhttp::response<bhttp::string_body> res{status, version()};
      known_reason_only(res.base());
      add_headers(res.base(), r.headers);
      res.keep_alive(ex_->keep_alive);
      if (ex_->head_request) {
        if (!bodyless(r.status)) res.content_length(r.body.size());
        bhttp::response_serializer<bhttp::string_body> sr{res};
        conn_.set_deadline(Deadline::write, s_.http.idle_timeout);
        auto [ec, n] = co_await bhttp::async_write_header(conn_.stream(), sr, kTuple);
        answered_ = !ec;
        co_return !ec;
      }
      ex_->bytes_out += r.body.size();
      res.body() = std::move(r.body);
      // 204 and 304 carry no Content-Length (RFC 9110 §8.6): no framing at all.
      if (!bodyless(r.status)) res.prepare_payload();
      conn_.set_deadline(Deadline::write, s_.http.idle_timeout);
      auto [ec, n] = co_await bhttp::async_write(conn_.stream(), res, kTuple);
      if (!end_stream) discard_rest_ = true;  // a 204/304 that the service streams
      answered_ = !ec;
      co_return !ec;
    }
    // Streamed: chunked for HTTP/1.1, close-delimited for HTTP/1.0.
    bhttp::response<bhttp::empty_body> res{status, version()};
    known_reason_only(res.base());
    add_headers(res.base(), r.headers);
    if (ex_->http_minor == 1) {
      res.chunked(true);
      res.keep_alive(ex_->keep_alive);
    } else {
      ex_->keep_alive = false;
      res.keep_alive(false);
    }
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    conn_.set_deadline(Deadline::write, s_.http.idle_timeout);
    auto [ec, n] = co_await bhttp::async_write_header(conn_.stream(), sr, kTuple);
    if (ec) co_return false;
    if (!r.body.empty()) co_return co_await write_chunk(r.body, false);
    co_return true;
  }

  asio::awaitable<bool> write_chunk(const std::string& data, bool last) {
    if (ex_->head_request || discard_rest_) {
      if (last) {
        discard_rest_ = false;
        answered_ = true;  // the head (all a HEAD or a 204/304 gets) went out
      }
      co_return true;
    }
    ex_->bytes_out += data.size();
    // co_await stays out of && / || conditions: GCC 12 miscompiles it there (the frame loses
    // `this`), so each write is its own statement.
    if (ex_->http_minor != 1) {
      bool ok = true;
      if (!data.empty()) {
        const auto written = co_await conn_.write(asio::buffer(data));
        ok = !std::get<0>(written);
      }
      if (last) answered_ = ok;
      co_return ok;
    }
    if (!data.empty()) {
      const auto chunk = bhttp::make_chunk(asio::buffer(data));  // named: outlives the write
      const auto written = co_await conn_.write(chunk);
      if (std::get<0>(written)) co_return false;
    }
    if (last) {
      const auto end = bhttp::make_chunk_last();
      const auto written = co_await conn_.write(end);
      if (std::get<0>(written)) co_return false;
      answered_ = true;
    }
    co_return true;
  }

  asio::awaitable<bool> respond(unsigned status, std::string_view content_type, std::string body,
                                const std::vector<std::pair<std::string, std::string>>& extra) {
    if (draining_ && ahead_count_ == 0) ex_->keep_alive = false;
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), version()};
    if (!content_type.empty()) res.set(bhttp::field::content_type, content_type);
    add_gateway_headers(res.base());
    for (const auto& [n, v] : extra)
      res.insert(n, v);
    res.keep_alive(ex_->keep_alive);
    if (!ex_->head_request) {
      ex_->bytes_out += body.size();
      res.body() = std::move(body);
      res.prepare_payload();
    } else if (status == 204 || status == 304) {
      res.prepare_payload();
    } else {
      res.content_length(body.size());  // HEAD: the length a GET would have, no body
    }
    conn_.set_deadline(Deadline::write, s_.http.idle_timeout);
    auto [ec, n] = co_await bhttp::async_write(conn_.stream(), res, kTuple);
    conn_.clear_deadline();
    answered_ = !ec;
    if (ec) {
      ex_->outcome = Outcome::client_closed;
      ex_->status = 499;
    }
    co_return !ec && ex_->keep_alive;
  }

  asio::awaitable<bool> respond_reply(DirectReply& r) {
    ex_->outcome = Outcome::management;
    ex_->status = r.status;
    co_return co_await respond(r.status, r.content_type, std::move(r.body), r.headers);
  }

  asio::awaitable<bool> respond_problem(const Problem& p, bool keep_alive) {
    ex_->keep_alive = keep_alive && !p.close && ex_->keep_alive;
    ex_->outcome = p.outcome;
    ex_->status = p.status;
    if (ex_->proxy.correlation_id.empty()) assign_correlation_id(RequestHead{}, w_.rng, ex_->proxy);
    const std::string_view instance =
        ex_->path_normalized ? std::string_view(ex_->proxy.path.path()) : std::string_view();
    std::string body = problem_json(p, instance, ex_->proxy.correlation_id);
    co_return co_await respond(p.status, "application/problem+json", std::move(body), p.headers);
  }

  WorkerContext& w_;
  const config::GatewayConfig& s_;
  ClientConnection<Stream> conn_;
  UpstreamForwarder fwd_;
  /// Requests forwarded ahead: [0, ahead_count_) in order, the rest kept for reuse. At most
  /// depth_ - 1 (http.maxPipelinedRequests in flight with the one being answered).
  std::vector<std::unique_ptr<Ahead>> ahead_;
  std::size_t ahead_count_ = 0;
  const std::size_t depth_;
  /// The last request read allows another to be forwarded behind it (safe, bodyless, kept alive).
  bool chain_ = false;
  bool ahead_partial_ = false;  // parser_ holds the start of a head read ahead
  ConnectionFacts facts_;
  HeadParser parser_;
  RequestHead head_;
  /// The current request's state: taken from the worker's pool when a request begins and given
  /// back when it completes, so an idle connection holds none.
  std::unique_ptr<Exchange> ex_;
  /// While a request body streams out: the service's answer that ended the upload (read_body
  /// → 2), and routing.maxStreamDuration's end, which bounds the upload too.
  std::unique_ptr<std::tuple<boost::system::error_code, UpstreamPart>> upstream_part_;
  std::optional<core::TimePoint> upload_deadline_;
  bool draining_ = false, busy_ = false, in_exchange_ = false, discard_rest_ = false;
  bool answered_ = false;  // the current (last) exchange's answer went out whole
};

}  // namespace stella::gw::http
