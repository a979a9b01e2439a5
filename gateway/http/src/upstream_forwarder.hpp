// The upstream side of one request: REQUEST and STREAM_DATA out through the UpstreamHub, the
// RESPONSE and STREAM_DATA parts back on the call's channel, CANCEL when the request ends
// early. It knows nothing of HTTP/1 framing or client sockets (the exchange loop does).
//
// One per connection, reused for each request, plus one per pipelined request forwarded ahead
// of the one being answered (exchange_loop.hpp); lives on the connection's worker.
#pragma once

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/consign.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <memory>
#include <tuple>
#include <vector>

#include "stella/core/credit.hpp"
#include "stella/gateway/http/metrics.hpp"
#include "stella/gateway/http/upstream_hub.hpp"
#include "stella/gateway/instance_picker.hpp"

namespace stella::gw::http {

class UpstreamForwarder {
 public:
  /// `spare_calls`: the worker's finished calls, taken for new requests and given back when
  /// they end — given back only by a call to a service connection of this worker (the hub's
  /// lane then ran on this thread too): one to another worker's connection would have to
  /// synchronise with that lane's last use of it, so it is freed instead.
  /// `metrics`: the worker's, where a call to another worker's connection is counted.
  UpstreamForwarder(UpstreamHub& hub, boost::asio::any_io_executor executor,
                    std::vector<std::shared_ptr<UpstreamCall>>& spare_calls, WorkerMetrics& metrics)
      : hub_(hub), executor_(std::move(executor)), spare_calls_(&spare_calls), metrics_(metrics) {}

  /// A call is open: started and neither finished nor cancelled.
  bool active() const noexcept { return call_ != nullptr && !cancelled_; }

  /// Exchanges the calls (and their flow-control state) of two forwarders of one connection: a
  /// pipelined request forwarded ahead becomes the one being answered.
  void swap_call(UpstreamForwarder& other) noexcept {
    std::swap(call_, other.call_);
    std::swap(cancelled_, other.cancelled_);
    std::swap(local_, other.local_);
    std::swap(credit_, other.credit_);
    std::swap(request_window_, other.request_window_);
  }

  /// Sends the REQUEST to the picked instance; `end_stream` when the body is complete in it.
  void start(const Pick& pick, core::Request&& request, bool end_stream) {
    if (!spare_calls_->empty()) {
      call_ = std::move(spare_calls_->back());
      spare_calls_->pop_back();
    } else {
      call_ = hub_.make_call(executor_);
    }
    cancelled_ = false;
    credit_.reset(hub_.settings().stream_window);
    request_window_ = 0;  // a streamed body waits for its initial window (a credit part)
    const std::uint64_t connection = pick.instance->connection_id;
    local_ = hub_.local(connection, executor_);
    if (local_)
      hub_.start_local(call_, connection, request, end_stream);
    else {
      metrics_.record_cross_worker_call();
      hub_.start(call_, connection, std::move(request), end_stream);
    }
  }
  /// More request body, in order. Only while may_send_body(): each chunk takes its size plus
  /// kCreditPerChunk from the window the service granted.
  void send_body(std::string chunk, bool end_stream) {
    if (!active()) return;
    request_window_ -= static_cast<std::int64_t>(chunk.size() + core::kCreditPerChunk);
    hub_.send_data(call_, std::move(chunk), end_stream);
  }
  /// The service's window for this request's body is above zero (a chunk may then take it
  /// below). Otherwise wait with next_part() for a `credit` part and add it with credited().
  bool may_send_body() const noexcept { return request_window_ > 0; }
  void credited(std::int64_t bytes) noexcept {
    request_window_ = std::min(request_window_ + bytes, std::int64_t{1} << 62);
  }
  /// The next response part; an error when interrupted (deadline, client gone) or when the
  /// hub closed the channel (the client reads too slowly). Only while active(): after cancel()
  /// (the client left while its answer was being written, say) nothing more comes, and the
  /// caller takes that as operation_aborted without waiting.
  /// Asio's operation itself, not a coroutine around it (a frame less per part); the operation
  /// holds the call (consign), so the channel outlives a cancel() or finish() meanwhile.
  auto next_part() {
    return call_->channel.async_receive(
        boost::asio::consign(boost::asio::as_tuple(boost::asio::use_awaitable), call_));
  }
  /// A part of `bytes` was written to the client: the hub may deliver more. For a STREAM_DATA
  /// part (`data`) the service gets that much credit plus the per-chunk cost (in batches of
  /// half the window, so CREDIT frames stay few); a head's body was never charged.
  void written(std::size_t bytes, bool data) {
    if (!call_) return;
    call_->buffered_bytes.fetch_sub(bytes, std::memory_order_relaxed);
    if (cancelled_ || !data) return;
    if (const std::uint32_t grant = credit_.consumed_chunk(bytes)) hub_.grant(call_, grant);
  }
  /// The next response part if one is waiting (never suspends).
  bool try_next_part(std::tuple<boost::system::error_code, UpstreamPart>& out) {
    if (!active()) return false;
    return call_->channel.try_receive([&out](boost::system::error_code ec, UpstreamPart part) {
      out = {ec, std::move(part)};
    });
  }
  /// The head of a part, written: its capacity is kept for the call's next head, and the
  /// request's own (sent, then answered) is handed back to `frame`, which was moved from when
  /// the request started (for a call to this worker's own connection only, as spare calls;
  /// neither when large: pooled calls and exchanges live as long as the worker).
  void keep_head(core::Response&& head, core::Request& frame) noexcept {
    if (!local_ || !call_) return;
    if (core::held_bytes(call_->spent_request) <= kKeptBytes)
      frame = std::move(call_->spent_request);
    if (core::held_bytes(head) <= kKeptBytes) call_->spare_head = std::move(head);
  }
  /// Wakes a pending next_part() with an error (the caller decides why).
  void interrupt() {
    if (call_) call_->channel.cancel();
  }
  /// Ends the call early: CANCEL to the service, and a pending next_part() wakes.
  /// The call stays known (a pending next_part() may still hold it) until finish().
  void cancel(core::CancelReason reason) {
    if (!active()) return;
    cancelled_ = true;
    hub_.cancel(call_, reason);
    call_->channel.cancel();
  }
  /// The call ended normally (last part received), failed, or was cancelled: forget it. When
  /// nothing else holds it any more (the hub let go, no next_part() waits on it), it goes back to
  /// the worker's spare calls, reset, for a later request (an idle connection holds none). The
  /// completion of next_part() holds the call until the awaiting coroutine suspends again, so a
  /// call finished in the same turn its last part arrived (a failure, a timeout, a HEAD answer)
  /// is freed rather than kept: a missed reuse, never an early one.
  void finish() noexcept {
    if (local_ && call_ && call_.use_count() == 1 && spare_calls_->size() < kKeptCalls) {
      try {
        call_->reset();
        spare_calls_->push_back(std::move(call_));
      } catch (...) {  // a new call next time
      }
    }
    call_.reset();
    cancelled_ = false;
  }

 private:
  static constexpr std::size_t kKeptCalls = 256;       // per worker, as the exchanges
  static constexpr std::size_t kKeptBytes = 4 * 1024;  // per kept head or request frame

  UpstreamHub& hub_;
  boost::asio::any_io_executor executor_;
  std::vector<std::shared_ptr<UpstreamCall>>* spare_calls_;
  WorkerMetrics& metrics_;
  std::shared_ptr<UpstreamCall> call_;
  bool cancelled_ = false;
  bool local_ = false;          // call_ goes to a service connection of this worker
  core::CreditBatcher credit_;  // response bytes written to the client, granted back in batches
  /// Request-body bytes the service still takes (as the HTTP side knows it: credit arrives
  /// here after the session counted it, so this never exceeds the session's view).
  std::int64_t request_window_ = 0;
};

}  // namespace stella::gw::http
