#include "stella/gateway/http/upstream_hub.hpp"

#include <boost/asio/dispatch.hpp>

namespace stella::gw::http {
namespace {
UpstreamPart credit_part(std::int64_t bytes) {
  UpstreamPart part;
  part.kind = UpstreamPart::Kind::credit;
  part.credit = bytes;
  return part;
}

}  // namespace

/// One worker's service connections: its listener's hooks, calls and call slots. Touched only on
/// that worker's executor.
struct UpstreamHub::Lane final : transport::GatewayHooks {
  Lane(UpstreamHub& h, asio::any_io_executor e) : hub(h), executor(std::move(e)) {}

  bool on_hello(const transport::ConnectionInfo& conn, const core::Hello& hello,
                core::HelloAck& ack, std::string& reason) override {
    return hub.registry_hooks_.on_hello(conn, hello, ack, reason);
  }
  void on_event(const transport::ConnectionInfo& conn, core::GatewayEvent& e) override;

  void start(const std::shared_ptr<UpstreamCall>& call, std::uint64_t connection,
             core::Request& request, bool end_stream);
  void deliver(UpstreamCall& call, UpstreamPart part);
  void finish(UpstreamCall& call);
  void fail(UpstreamCall& call, UpstreamPart::Failure why, bool started, std::string detail,
            std::unique_ptr<core::Request> returned = nullptr);

  UpstreamHub& hub;
  asio::any_io_executor executor;
  transport::GatewayListener* listener = nullptr;
  gw::CallTable calls;
  /// Open calls by slot (the call table maps (connection, stream) → slot); free slots are reused.
  std::vector<std::shared_ptr<UpstreamCall>> slots;
  std::vector<std::uint32_t> free_slots;
};

UpstreamHub::UpstreamHub(std::vector<asio::any_io_executor> executors, UpstreamSettings settings,
                         RegistryHooks& registry_hooks, const core::Clock& clock)
    : settings_(settings), registry_hooks_(registry_hooks), clock_(clock) {
  for (auto& e : executors)
    lanes_.push_back(std::make_unique<Lane>(*this, std::move(e)));
}

UpstreamHub::~UpstreamHub() = default;

transport::GatewayHooks& UpstreamHub::hooks(std::size_t worker) noexcept {
  return *lanes_[worker];
}

void UpstreamHub::attach(std::size_t worker, transport::GatewayListener& listener) noexcept {
  lanes_[worker]->listener = &listener;
}

std::shared_ptr<UpstreamCall> UpstreamHub::make_call(
    const asio::any_io_executor& http_executor) const {
  return std::make_shared<UpstreamCall>(http_executor, settings_.channel_capacity);
}

bool UpstreamHub::local(std::uint64_t connection,
                        const asio::any_io_executor& executor) const noexcept {
  return lanes_[worker_of(connection)]->executor == executor;
}

template <class F>
void UpstreamHub::on_lane(std::size_t lane, F&& f) {
  // dispatch: runs inline when the caller already is on the lane's executor (its own worker).
  asio::dispatch(lanes_[lane]->executor, std::forward<F>(f));
}

void UpstreamHub::start(std::shared_ptr<UpstreamCall> call, std::uint64_t connection,
                        core::Request request, bool end_stream) {
  const std::size_t index = worker_of(connection);  // before `call` moves into the handler
  call->lane = index;
  Lane& lane = *lanes_[index];
  on_lane(index, [&lane, call = std::move(call), connection, request = std::move(request),
                  end_stream]() mutable { lane.start(call, connection, request, end_stream); });
}

void UpstreamHub::start_local(const std::shared_ptr<UpstreamCall>& call, std::uint64_t connection,
                              core::Request& request, bool end_stream) {
  const std::size_t index = worker_of(connection);
  call->lane = index;
  lanes_[index]->start(call, connection, request, end_stream);
}

void UpstreamHub::Lane::start(const std::shared_ptr<UpstreamCall>& call, std::uint64_t connection,
                              core::Request& request, bool end_stream) {
  call->connection = connection;
  core::GatewaySession* session = listener ? listener->session(connection) : nullptr;
  if (!session) {
    fail(*call, UpstreamPart::Failure::instance_lost, false, "the instance disconnected");
    return;
  }
  std::uint32_t slot = 0;
  if (free_slots.empty()) {
    slot = static_cast<std::uint32_t>(slots.size());
    slots.push_back(nullptr);
  } else {
    slot = free_slots.back();
    free_slots.pop_back();
  }
  std::uint32_t stream = 0;
  const core::Errc e =
      calls.start(connection, *session, request, end_stream, hub.clock_.now(), slot, stream,
                  [&] { return hub.registry_hooks_.routes().instance_state(connection); });
  if (e != core::Errc::ok) {
    free_slots.push_back(slot);
    std::unique_ptr<core::Request> returned;
    if (end_stream) returned = std::make_unique<core::Request>(std::move(request));
    fail(*call, UpstreamPart::Failure::not_ready, false,
         "the instance cannot take the request (" + std::string(core::errc_name(e)) + ")",
         std::move(returned));
    return;
  }
  if (end_stream) {
    call->request = std::move(request);
  } else {  // the body streams: its initial window, as the first part
    (void)call->channel.try_send(boost::system::error_code{},
                                 credit_part(session->request_window(stream)));
  }
  call->stream = stream;
  call->slot = slot;
  call->open = true;
  slots[slot] = call;
  listener->wake(connection);
}

void UpstreamHub::send_data(std::shared_ptr<UpstreamCall> call, std::string data, bool end_stream) {
  const std::size_t index = call->lane;  // before `call` moves into the handler
  Lane& lane = *lanes_[index];
  on_lane(index, [&lane, call = std::move(call), data = std::move(data), end_stream] {
    if (!call->open) return;
    core::GatewaySession* session = lane.listener->session(call->connection);
    if (!session) return;  // the Closed event fails the call
    const core::Errc e = session->send_request_data(call->stream, data, end_stream);
    if (e != core::Errc::ok) {
      session->cancel(call->stream, core::CancelReason::client_disconnected,
                      "request body could not be queued");
      lane.fail(*call, UpstreamPart::Failure::not_ready, false,
                "the instance connection is saturated (" + std::string(core::errc_name(e)) + ")");
    }
    lane.listener->wake(call->connection);
  });
}

void UpstreamHub::cancel(std::shared_ptr<UpstreamCall> call, core::CancelReason reason) {
  const std::size_t index = call->lane;  // before `call` moves into the handler
  Lane& lane = *lanes_[index];
  on_lane(index, [&lane, call = std::move(call), reason] {
    if (!call->open) return;
    if (core::GatewaySession* session = lane.listener->session(call->connection)) {
      (void)session->cancel(call->stream, reason);
      lane.listener->wake(call->connection);
    }
    lane.finish(*call);
  });
}

void UpstreamHub::grant(std::shared_ptr<UpstreamCall> call, std::uint32_t bytes) {
  const std::size_t index = call->lane;  // before `call` moves into the handler
  Lane& lane = *lanes_[index];
  on_lane(index, [&lane, call = std::move(call), bytes] {
    if (!call->open) return;
    if (core::GatewaySession* session = lane.listener->session(call->connection)) {
      if (session->grant_credit(call->stream, bytes) == core::Errc::ok)
        lane.listener->wake(call->connection);
    }
  });
}

void UpstreamHub::Lane::finish(UpstreamCall& call) {
  if (!call.open) return;
  call.open = false;
  calls.finish(call.connection, call.stream);  // no-op when the table already forgot it
  slots[call.slot].reset();
  free_slots.push_back(call.slot);
}

void UpstreamHub::Lane::deliver(UpstreamCall& call, UpstreamPart part) {
  if (part.kind == UpstreamPart::Kind::head) part.arrived = hub.clock_.now();
  const std::size_t bytes = part.head.body.size() + part.data.size();
  const bool last = part.end_stream || part.kind == UpstreamPart::Kind::failed;
  const std::size_t buffered = call.buffered_bytes.fetch_add(bytes) + bytes;
  if (!last && buffered > hub.settings_.max_buffered_bytes) {
    if (core::GatewaySession* session = listener->session(call.connection)) {
      (void)session->cancel(call.stream, core::CancelReason::client_disconnected,
                            "client too slow");
      listener->wake(call.connection);
    }
    finish(call);
    (void)call.channel.try_send(boost::system::error_code{},
                                UpstreamPart{UpstreamPart::Kind::failed,
                                             true,
                                             {},
                                             {},
                                             UpstreamPart::Failure::overflow,
                                             true,
                                             "client reads slower than the service sends"});
    return;
  }
  if (last) finish(call);
  if (!call.channel.try_send(boost::system::error_code{}, std::move(part))) {
    // Channel full (a slow client with many small parts): same bound as bytes.
    if (!last) {
      if (core::GatewaySession* session = listener->session(call.connection)) {
        (void)session->cancel(call.stream, core::CancelReason::client_disconnected,
                              "client too slow");
        listener->wake(call.connection);
      }
      finish(call);
    }
    call.channel.close();  // the HTTP side sees the channel closed: abort the client response
  }
}

void UpstreamHub::Lane::fail(UpstreamCall& call, UpstreamPart::Failure why, bool started,
                             std::string detail, std::unique_ptr<core::Request> returned) {
  UpstreamPart part;
  part.kind = UpstreamPart::Kind::failed;
  part.failure = why;
  part.response_started = started;
  part.detail = std::move(detail);
  part.returned = std::move(returned);
  deliver(call, std::move(part));
}

void UpstreamHub::Lane::on_event(const transport::ConnectionInfo& conn, core::GatewayEvent& e) {
  const std::uint32_t slot = calls.on_stream_event(conn.id, e);
  if (slot == gw::CallTable::kNoCall) {
    // Not a stream event (the registry's: heartbeats, drains, close), or a stream that is no
    // longer ours (cancelled meanwhile).
    if (!std::holds_alternative<core::gw_event::ResponseHead>(e) &&
        !std::holds_alternative<core::gw_event::ResponseData>(e) &&
        !std::holds_alternative<core::gw_event::StreamFailed>(e) &&
        !std::holds_alternative<core::gw_event::RequestCredit>(e)) {
      // The session failed each open stream (StreamFailed, above) before it reported Closed:
      // nothing is left to answer.
      if (std::holds_alternative<core::gw_event::Closed>(e)) calls.forget_connection(conn.id);
      hub.registry_hooks_.on_event(conn, e);
    }
    return;
  }
  const auto call = slots[slot];  // finish() below may release the slot
  if (auto* head = std::get_if<core::gw_event::ResponseHead>(&e)) {
    if (call->request) {  // answered: it will not be sent again; kept for its capacity
      call->spent_request = std::move(*call->request);
      call->request.reset();
    }
    UpstreamPart part;
    part.kind = UpstreamPart::Kind::head;
    part.end_stream = head->end_stream;
    part.head = std::move(call->spare_head);  // empty, or a written head's capacity
    head->response->assign_to(part.head);     // the one copy of its bytes
    deliver(*call, std::move(part));
  } else if (auto* data = std::get_if<core::gw_event::ResponseData>(&e)) {
    UpstreamPart part;
    part.kind = UpstreamPart::Kind::data;
    part.end_stream = data->end_stream;
    part.data = std::move(data->data);
    deliver(*call, std::move(part));
  } else if (auto* credit = std::get_if<core::gw_event::RequestCredit>(&e)) {
    // Not counted as buffered bytes. A service granting in tiny steps may fill the channel:
    // then a later response part cannot be delivered and the call fails (deliver()).
    (void)call->channel.try_send(boost::system::error_code{}, credit_part(credit->increment));
  } else if (auto* failed = std::get_if<core::gw_event::StreamFailed>(&e)) {
    // Refused unseen by a draining instance: nothing ran, it may go elsewhere.
    if (failed->service_cancel ==
            static_cast<std::uint16_t>(core::CancelReason::instance_draining) &&
        !failed->response_started && call->request) {
      auto returned = std::make_unique<core::Request>(std::move(*call->request));
      call->request.reset();
      fail(*call, UpstreamPart::Failure::not_ready, false,
           "the instance was draining when the request arrived", std::move(returned));
      return;
    }
    fail(*call, UpstreamPart::Failure::instance_lost, failed->response_started,
         failed->service_cancel != 0
             ? "the instance aborted the request (CANCEL " +
                   std::string(core::cancel_reason_name(failed->service_cancel)) + ")"
             : "the instance ended the request (" + std::string(core::errc_name(failed->reason)) +
                   ")");
  }
}

}  // namespace stella::gw::http
