// Service identity: which connections may register which service names and claim which paths
// (docs/security.md, "Service identity").
//
// The gateway's config lists identity rules (transports.tls.serviceIdentities): a certificate
// identity (a subject alternative name, the subject CN, or the SHA-256 thumbprint) → the service
// names it may register, and optionally the path prefixes those names may claim. From them:
//   - a name listed by any rule is reserved: only a connection whose verified certificate
//     matches a rule granting that name may register it (plain TCP never can);
//   - a connection whose certificate matches some rule may register only the names its rules
//     grant ("*" grants any name that is not reserved by another rule);
//   - a name not listed anywhere is open to any connection (the dev mode: no rules at all);
//   - a granted name restricted to prefixes may only register templates under them, and no
//     other service may register a template that reaches under a prefix granted to someone else
//     (a more specific template would win by specificity and take that traffic), unless its own
//     grant covers the template with a longer prefix.
// Prefixes are whole segments: "/api/pay" does not cover "/api/payments".
//
// Sans-I/O and immutable after construction: any thread may call the const members.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/path_template.hpp"

namespace stella::gw {

/// What the transport verified about a connection's peer.
struct PeerIdentity {
  /// A client certificate was presented and its chain verified (TLS listener).
  bool verified = false;
  std::string thumbprint_sha256;               // lower-case hex
  std::string common_name;                     // subject CN (empty if none)
  std::vector<std::string> subject_alt_names;  // DNS names and URIs
  /// "san=a.example,cn=..., sha256=..." or "no client certificate": for refusal messages.
  std::string describe() const;
};

struct ServiceIdentityRule {
  enum class Match : std::uint8_t { san, cn, thumbprint };
  Match match = Match::san;
  std::string value;                       // thumbprint: 64 lower-case hex digits
  std::vector<std::string> services;       // names it may register; "*" = any unreserved name
  std::vector<std::string> path_prefixes;  // empty: any path
};

class ServiceIdentityPolicy {
 public:
  /// Prefixes must be valid literal-only templates (the config validates them; others are
  /// ignored here).
  ServiceIdentityPolicy() = default;
  explicit ServiceIdentityPolicy(std::vector<ServiceIdentityRule> rules);

  bool empty() const noexcept { return rules_.empty(); }

  /// nullopt when `peer` may register `service`; otherwise why not (for HELLO_ACK and the log).
  std::optional<std::string> check_service(const PeerIdentity& peer,
                                           std::string_view service) const;
  /// nullopt when `service` (registered by `peer`) may claim `tmpl`; otherwise why not.
  std::optional<std::string> check_template(const PeerIdentity& peer, std::string_view service,
                                            const core::PathTemplate& tmpl) const;

 private:
  struct Rule {
    ServiceIdentityRule config;
    std::vector<core::PathTemplate> prefixes;
  };
  bool matches(const Rule& r, const PeerIdentity& peer) const;
  static bool grants(const Rule& r, std::string_view service);

  std::vector<Rule> rules_;
};

/// Every path `tmpl` matches lies under `prefix` (whole segments).
bool template_within(const core::PathTemplate& tmpl, const core::PathTemplate& prefix);
/// Some path `tmpl` matches lies under `prefix`.
bool template_reaches(const core::PathTemplate& tmpl, const core::PathTemplate& prefix);

}  // namespace stella::gw
