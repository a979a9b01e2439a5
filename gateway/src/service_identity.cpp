#include "stella/gateway/service_identity.hpp"

#include <algorithm>

#include "stella/core/text.hpp"

namespace stella::gw {
namespace {

std::string_view match_name(ServiceIdentityRule::Match m) {
  switch (m) {
    case ServiceIdentityRule::Match::san:
      return "san";
    case ServiceIdentityRule::Match::cn:
      return "cn";
    case ServiceIdentityRule::Match::thumbprint:
      return "thumbprint";
  }
  return "?";
}

}  // namespace

std::string PeerIdentity::describe() const {
  if (!verified) return "no verified client certificate";
  std::string s;
  for (const auto& san : subject_alt_names) {
    if (!s.empty()) s += ',';
    s += "san=" + san;
  }
  if (!common_name.empty()) s += (s.empty() ? "" : ",") + ("cn=" + common_name);
  s += (s.empty() ? "" : ",") + ("sha256=" + thumbprint_sha256);
  return "certificate " + s;
}

bool template_within(const core::PathTemplate& tmpl, const core::PathTemplate& prefix) {
  const auto& t = tmpl.segments();
  const auto& p = prefix.segments();
  if (t.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (t[i].kind != core::SegmentKind::kLiteral || t[i].text != p[i].text) return false;
  }
  return true;
}

bool template_reaches(const core::PathTemplate& tmpl, const core::PathTemplate& prefix) {
  const auto& t = tmpl.segments();
  const auto& p = prefix.segments();
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (i >= t.size()) return false;  // every path of tmpl is shorter than the prefix
    switch (t[i].kind) {
      case core::SegmentKind::kCatchAll:
        return true;
      case core::SegmentKind::kParam:
        break;  // a prefix segment is a non-empty literal: a parameter can take it
      case core::SegmentKind::kLiteral:
        if (t[i].text != p[i].text) return false;
        break;
    }
  }
  return true;
}

ServiceIdentityPolicy::ServiceIdentityPolicy(std::vector<ServiceIdentityRule> rules) {
  rules_.reserve(rules.size());
  for (auto& r : rules) {
    Rule rule{std::move(r), {}};
    for (const auto& text : rule.config.path_prefixes) {
      auto parsed = core::PathTemplate::parse(text);
      if (parsed.ok()) rule.prefixes.push_back(std::move(parsed).value());
    }
    rules_.push_back(std::move(rule));
  }
}

bool ServiceIdentityPolicy::matches(const Rule& r, const PeerIdentity& peer) const {
  if (!peer.verified) return false;
  const auto& v = r.config.value;
  switch (r.config.match) {
    case ServiceIdentityRule::Match::san:
      return std::any_of(peer.subject_alt_names.begin(), peer.subject_alt_names.end(),
                         [&](const std::string& s) { return core::iequals_ascii(s, v); });
    case ServiceIdentityRule::Match::cn:
      return !peer.common_name.empty() && peer.common_name == v;
    case ServiceIdentityRule::Match::thumbprint:
      return core::iequals_ascii(peer.thumbprint_sha256, v);
  }
  return false;
}

bool ServiceIdentityPolicy::grants(const Rule& r, std::string_view service) {
  return std::find(r.config.services.begin(), r.config.services.end(), service) !=
         r.config.services.end();
}

std::optional<std::string> ServiceIdentityPolicy::check_service(const PeerIdentity& peer,
                                                                std::string_view service) const {
  if (rules_.empty()) return std::nullopt;
  bool matched_any = false;
  bool wildcard = false;
  for (const auto& r : rules_) {
    if (!matches(r, peer)) continue;
    matched_any = true;
    if (grants(r, service)) return std::nullopt;
    wildcard = wildcard || grants(r, "*");
  }
  const Rule* owner = nullptr;
  for (const auto& r : rules_)
    if (grants(r, service)) {
      owner = &r;
      break;
    }
  if (owner != nullptr) {
    return "service \"" + std::string(service) + "\" is reserved for the certificate with " +
           std::string(match_name(owner->config.match)) + "=" + owner->config.value +
           " (transports.tls.serviceIdentities); this connection has " + peer.describe();
  }
  if (matched_any && !wildcard) {
    return "the " + peer.describe() + " may not register service \"" + std::string(service) +
           "\" (transports.tls.serviceIdentities grants it other names)";
  }
  return std::nullopt;
}

std::optional<std::string> ServiceIdentityPolicy::check_template(
    const PeerIdentity& peer, std::string_view service, const core::PathTemplate& tmpl) const {
  if (rules_.empty()) return std::nullopt;
  // The prefixes this peer's grant of `service` allows; `restricted` false: any path.
  std::vector<const core::PathTemplate*> own;
  bool granted = false;
  bool restricted = true;
  // A "*" rule grants only names no rule lists: it cannot widen a reserved name's prefixes.
  const bool reserved =
      std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) { return grants(r, service); });
  for (const auto& r : rules_) {
    if (!matches(r, peer) || !(grants(r, service) || (!reserved && grants(r, "*")))) continue;
    granted = true;
    if (r.prefixes.empty() && r.config.path_prefixes.empty()) restricted = false;
    for (const auto& p : r.prefixes)
      own.push_back(&p);
  }
  std::size_t covered = 0;  // segments of the longest own prefix that contains tmpl
  bool within_own = false;
  for (const auto* p : own) {
    if (template_within(tmpl, *p)) {
      within_own = true;
      covered = std::max(covered, p->segments().size());
    }
  }
  if (granted && restricted && !within_own) {
    std::string list;
    for (const auto* p : own)
      list += (list.empty() ? "" : ", ") + p->to_string();
    return tmpl.to_string() + " is outside the path prefixes granted to service \"" +
           std::string(service) + "\" (" + list + ")";
  }
  for (const auto& r : rules_) {
    for (const auto& owner : r.config.services) {
      if (owner == service || owner == "*") continue;
      for (const auto& p : r.prefixes) {
        if (!template_reaches(tmpl, p)) continue;
        if (within_own && covered >= p.segments().size()) continue;  // a narrower own grant
        return tmpl.to_string() + " reaches under " + p.to_string() + ", granted to service \"" +
               owner + "\" (transports.tls.serviceIdentities)";
      }
    }
  }
  return std::nullopt;
}

}  // namespace stella::gw
