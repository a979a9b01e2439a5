// The bridge between HTTP workers and service connections (stage 7 of the pipeline).
//
// Each service connection lives on one worker's executor (a GatewaySession is single-threaded):
// every worker runs a GatewayListener of its own, and the hub has a lane per worker — the
// listener's hooks, and the call table (gw::CallTable, shared with the simulator) and call slots
// of that worker's connections. Connection ids name their worker (id % workers,
// transport::ListenerSettings::id_stride). An HTTP request on any worker starts an UpstreamCall:
// the lane of the chosen connection's worker sends the REQUEST on the connection and remembers
// (connection, stream) → the call's slot. start() posts to that lane from another worker; on the
// request's own worker (no hop, no lock: the selector prefers such a connection, see
// gw::prefer_local) the forwarder calls start_local(), which runs in place. Response frames come
// back through the lane's GatewayHooks::on_event on that worker, the call table names their call,
// and they are handed to the call's channel, which the HTTP side awaits on its own worker. What is
// not about a stream (HELLO, heartbeats, drains, close) goes to the registry (RegistryHooks, behind
// its lock).
//
// Flow control, request bodies: a service that announces `request_window` in HELLO takes that
// many request-body bytes per stream before it grants more with CREDIT. start() hands the
// call its initial window as a `credit` part and each CREDIT becomes another; the HTTP side sends
// body chunks while its window is above zero and otherwise waits on the channel (so an
// uploader is paused at the client's socket, not buffered here).
//
// Flow control, responses: the gateway announces `stream_window` in HELLO_ACK; a service sends at
// most that many response-body bytes per stream before it waits for CREDIT, and the HTTP side
// grants credit (grant()) as it writes what arrived to the client — a slow client pauses the
// service instead of growing the gateway. Bounded for services that ignore credit too: a call
// buffers at most `max_buffered_bytes` of response parts that the client has not taken yet; past it
// the stream is cancelled towards the service and the call fails with `overflow`.
//
// Thread-safety: start/send_data/cancel/grant may be called from any thread, each call's from
// one thread (its HTTP connection's). A lane's hooks run on its worker (its listener calls them).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "stella/core/frame.hpp"
#include "stella/gateway/http/registry_hooks.hpp"
#include "stella/gateway/instance_state.hpp"
#include "stella/transport/gateway_listener.hpp"

namespace stella::gw::http {

namespace asio = boost::asio;

/// One piece of an upstream answer.
struct UpstreamPart {
  /// credit: the service took more of the request body (`credit` more bytes may go; the first
  /// credit part of a call with a streamed body carries the whole initial window).
  enum class Kind : std::uint8_t { head, data, failed, credit };
  Kind kind = Kind::failed;
  bool end_stream = false;
  core::Response head;  // kind == head (body inline when end_stream)
  std::string data;     // kind == data
  /// kind == failed: why. instance_lost (session closed/stream failed), not_ready (draining,
  /// stream limit: nothing was sent), overflow (client too slow).
  enum class Failure : std::uint8_t { instance_lost, not_ready, overflow } failure{};
  bool response_started = false;  // kind == failed: the service had begun answering
  std::string detail;
  /// kind == failed: the request, when no handler saw it (the instance was draining or full
  /// when it arrived) and it was whole (no streamed body): it may be sent to another instance.
  /// (A pointer: the rare case should not make every part, every channel slot and every frame
  /// that holds a part the size of a request.)
  std::unique_ptr<core::Request> returned{};
  std::int64_t credit = 0;  // kind == credit
  /// When the hub received it (kind == head: the transport duration ends there, not when the
  /// HTTP side took it, which for a pipelined request may be after other answers).
  core::TimePoint arrived{};
};

using PartChannel =
    asio::experimental::concurrent_channel<void(boost::system::error_code, UpstreamPart)>;

/// Shared between the HTTP side (owner) and the lane (worker) of its service connection.
struct UpstreamCall {
  explicit UpstreamCall(const asio::any_io_executor& http_executor, std::size_t capacity)
      : channel(http_executor, capacity) {}
  PartChannel channel;
  /// Bytes delivered to the channel and not yet written to the client.
  std::atomic<std::size_t> buffered_bytes{0};
  /// The lane (worker) of the connection it was started on. HTTP side: set by start().
  std::size_t lane = 0;
  // The lane's executor only:
  std::uint64_t connection = 0;
  std::uint32_t stream = 0;
  bool open = false;
  std::uint32_t slot = 0;  // in the hub's call table (while open)
  /// A whole request, kept until its response starts, so a service that refuses it unseen
  /// (CANCEL instance_draining) lets the gateway send it elsewhere.
  std::optional<core::Request> request;
  /// A written answer head kept for its capacity: the next head of this call is copied into it
  /// (set only by a connection on its lane's own thread).
  core::Response spare_head;
  /// The request, once its answer began (no longer `request`): a connection on its lane's own
  /// thread takes it back for the capacity of its next request's frame.
  core::Request spent_request;

  /// Back to the state of a new call, keeping the channel's buffer and the spare head (for a
  /// later request of the same worker's connections). Only by the sole owner: nothing else may hold
  /// the call.
  void reset() {
    channel.reset();
    buffered_bytes.store(0, std::memory_order_relaxed);
    lane = 0;
    connection = 0;
    stream = 0;
    open = false;
    slot = 0;
    request.reset();
    spent_request = core::Request{};
  }
};

struct UpstreamSettings {
  /// Response bytes a call may hold for a slow client (2 MiB): beyond it the stream is
  /// cancelled (docs/http.md, "slow clients"). Only a service that ignores credit gets there.
  std::size_t max_buffered_bytes = 2 * 1024 * 1024;
  /// routing.streamWindow, as announced in HELLO_ACK (0: no credit). Credit is granted in
  /// batches of at least half of it.
  std::uint32_t stream_window = 256 * 1024;
  /// Parts a call's channel holds (bounded queue). Above the chunks a window admits
  /// (stream_window / kCreditPerChunk + 1), so a service that honours credit never fills it.
  std::size_t channel_capacity = 512;
};

class UpstreamHub final {
 public:
  /// `executors`: one per worker, in worker order (connection ids name their worker).
  UpstreamHub(std::vector<asio::any_io_executor> executors, UpstreamSettings settings,
              RegistryHooks& registry_hooks, const core::Clock& clock);
  ~UpstreamHub();
  UpstreamHub(const UpstreamHub&) = delete;
  UpstreamHub& operator=(const UpstreamHub&) = delete;

  /// What worker `worker`'s listener reports to (its lane).
  transport::GatewayHooks& hooks(std::size_t worker) noexcept;
  /// The listener of worker `worker`, whose sessions that lane's calls use. Set once before
  /// traffic.
  void attach(std::size_t worker, transport::GatewayListener& listener) noexcept;
  /// The worker whose listener runs `connection` (the convention of gw::LocalWorker).
  std::size_t worker_of(std::uint64_t connection) const noexcept {
    return static_cast<std::size_t>(connection % lanes_.size());
  }

  std::shared_ptr<UpstreamCall> make_call(const asio::any_io_executor& http_executor) const;
  /// Whether a call to `connection` started from `executor` stays on that executor's thread
  /// (the connection's worker is the caller's): the hub then touches the call only on that
  /// thread, between the HTTP connection's own steps.
  bool local(std::uint64_t connection, const asio::any_io_executor& executor) const noexcept;

  /// Sends the REQUEST to `connection` (any thread). Failures arrive on the channel.
  void start(std::shared_ptr<UpstreamCall> call, std::uint64_t connection, core::Request request,
             bool end_stream);
  /// The same, called on `connection`'s own worker thread (local() is true for the caller's
  /// executor): runs in place, and `request` moves once, into the call (left as it is when the
  /// REQUEST could not be queued and `end_stream` is false). start() would move it into a
  /// handler and through Asio's dispatch, five moves of a request for the same inline call.
  void start_local(const std::shared_ptr<UpstreamCall>& call, std::uint64_t connection,
                   core::Request& request, bool end_stream);
  /// More request body (any thread), in order after start().
  void send_data(std::shared_ptr<UpstreamCall> call, std::string data, bool end_stream);
  /// Ends the call early: CANCEL to the service (any thread). No-op when already finished.
  void cancel(std::shared_ptr<UpstreamCall> call, core::CancelReason reason);
  /// The client took `bytes` more of the response: CREDIT to the service (any thread). No-op
  /// when the call has finished.
  void grant(std::shared_ptr<UpstreamCall> call, std::uint32_t bytes);
  const UpstreamSettings& settings() const noexcept { return settings_; }

 private:
  struct Lane;
  template <class F>
  void on_lane(std::size_t lane, F&& f);

  UpstreamSettings settings_;
  RegistryHooks& registry_hooks_;
  const core::Clock& clock_;
  std::vector<std::unique_ptr<Lane>> lanes_;
};

}  // namespace stella::gw::http
