#include "stella/gateway/http/registry_hooks.hpp"

#include <cstdio>

#include "stella/core/text.hpp"

namespace stella::gw::http {

RegistryHooks::RegistryHooks(gw::RegistrySettings settings, const core::Clock& clock,
                             std::function<void(const std::string&)> log, bool log_heartbeats)
    : router_(std::move(settings)),
      clock_(clock),
      log_(std::move(log)),
      log_heartbeats_(log_heartbeats) {}

void RegistryHooks::write(const std::vector<std::string>& lines) const {
  for (const auto& line : lines)
    log_(line);
}

bool RegistryHooks::on_hello(const transport::ConnectionInfo& conn, const core::Hello& hello,
                             core::HelloAck& ack, std::string& reason) {
  gw::PeerIdentity peer;
  peer.verified = !conn.client_certificate_sha256.empty();  // the TLS listener verified it
  peer.thumbprint_sha256 = conn.client_certificate_sha256;
  peer.common_name = conn.client_certificate_cn;
  peer.subject_alt_names = conn.client_certificate_sans;
  // Printable: a refused HELLO is exactly the one whose names may not be.
  const std::string who =
      core::printable(hello.service, 128) + "/" + core::printable(hello.instance_id, 128);
  std::vector<std::string> lines;  // written after the lock: a slow log stalls no other worker
  bool registered = false;
  {
    const std::lock_guard lock(mu_);
    auto outcome = router_.on_hello(conn.id, hello, clock_.now(), peer);
    registered = outcome.registered;
    if (!registered) {
      ++refused_hellos_;
      reason = outcome.peer_reason.empty() ? outcome.reason : outcome.peer_reason;
      lines.push_back("conn " + std::to_string(conn.id) + " " + conn.peer + ": HELLO from " + who +
                      " refused: " + outcome.reason);
    } else {
      ack = std::move(outcome.ack);
      names_[conn.id] = who;
      for (const auto& r : ack.rejected)
        ++refused_endpoints_[r.reason < refused_endpoints_.size() ? r.reason : 0];
    }
  }
  if (registered) {
    lines.push_back("conn " + std::to_string(conn.id) + " " + conn.peer + ": registered " + who +
                    " version=" + core::printable(hello.service_version, 128) +
                    " region=" + core::printable(hello.region, 128) +
                    " request_window=" + std::to_string(hello.request_window) +
                    " endpoints: " + std::to_string(ack.accepted.size()) + " accepted, " +
                    std::to_string(ack.rejected.size()) + " refused");
    for (const auto& r : ack.rejected)
      lines.push_back("  refused " + core::printable(r.method) + " " + core::printable(r.path) +
                      ": " + core::printable(r.message));
  }
  write(lines);
  return registered;
}

void RegistryHooks::transition(std::vector<std::string>& lines, const std::string& who,
                               const std::optional<gw::HealthTransition>& t) {
  if (!t) return;
  lines.push_back(who + "health " + std::string(gw::health_status_name(t->from)) + " -> " +
                  std::string(gw::health_status_name(t->to)) + " (" +
                  std::string(gw::health_reason_name(t->reason)) + ")");
}

void RegistryHooks::on_event(const transport::ConnectionInfo& conn, core::GatewayEvent& e) {
  std::vector<std::string> lines;  // written after the lock, as in on_hello
  {
    const std::lock_guard lock(mu_);
    const std::string who = "conn " + std::to_string(conn.id) + " " + names_[conn.id] + ": ";
    const auto now = clock_.now();
    if (auto* ack = std::get_if<core::gw_event::HeartbeatAck>(&e)) {
      transition(lines, who, router_.on_lifecycle(conn.id, e, now));
      if (log_heartbeats_) {
        char line[128];
        std::snprintf(line, sizeof line, "heartbeat rtt=%.3fms status=%s in_flight=%u",
                      std::chrono::duration<double, std::milli>(ack->rtt).count(),
                      std::string(gw::health_status_name(ack->status)).c_str(), ack->in_flight);
        lines.push_back(who + line);
      }
    } else if (std::get_if<core::gw_event::HeartbeatSent>(&e)) {
      transition(lines, who, router_.on_lifecycle(conn.id, e, now));
    } else if (auto* missed = std::get_if<core::gw_event::HeartbeatMissed>(&e)) {
      lines.push_back(who + "heartbeat missed (" + std::to_string(missed->consecutive) +
                      " in a row)");
    } else if (auto* drain = std::get_if<core::gw_event::PeerDraining>(&e)) {
      lines.push_back(who + "draining: " + core::printable(drain->drain.message));
      transition(lines, who, router_.on_lifecycle(conn.id, e, now));
    } else if (auto* closed = std::get_if<core::gw_event::Closed>(&e)) {
      lines.push_back(
          who + "gone (" + std::string(core::errc_name(closed->info.error)) +
          (closed->info.message.empty() ? "" : ": " + core::printable(closed->info.message)) +
          "), removed from routing");
      // The runner closes with "write timeout: ..." and the session prefixes "connection
      // closed: " (a service's own DRAIN text starts "service closed: ", so it cannot count).
      if (closed->info.message.rfind("connection closed: write timeout", 0) == 0) ++write_timeouts_;
      router_.on_closed(conn.id, now);
      names_.erase(conn.id);
    }
  }
  write(lines);
}

}  // namespace stella::gw::http
