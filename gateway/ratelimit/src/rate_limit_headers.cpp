#include "stella/gateway/ratelimit/rate_limit_headers.hpp"

#include <algorithm>
#include <chrono>

namespace stella::gw::ratelimit {

namespace {

// An sf-string (RFC 8941 §3.3.3): printable ASCII with `"` and `\` escaped.
void append_sf_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') out += '\\';
    out += (u >= 0x20 && u <= 0x7E) ? ch : '?';
  }
  out += '"';
}

}  // namespace

std::uint64_t seconds_rounded_up(core::Duration d) noexcept {
  if (d <= core::Duration::zero()) return 0;
  return static_cast<std::uint64_t>(std::chrono::ceil<std::chrono::seconds>(d).count());
}

std::string retry_after_value(core::Duration retry_after) {
  return std::to_string(std::max<std::uint64_t>(1, seconds_rounded_up(retry_after)));
}

std::string x_ratelimit_reset_value(const Decision& d) {
  return std::to_string(seconds_rounded_up(d.reset));
}

std::string policy_name(std::size_t rule, std::span<const std::string> names) {
  if (rule < names.size() && !names[rule].empty()) return names[rule];
  return "r" + std::to_string(rule);
}

std::string ratelimit_policy_value(std::span<const Rule> rules,
                                   std::span<const std::string> names) {
  std::string out;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (i > 0) out += ", ";
    append_sf_string(out, policy_name(i, names));
    out += ";q=" + std::to_string(rules[i].max_requests);
    out += ";w=" + std::to_string(std::max<std::uint64_t>(1, seconds_rounded_up(rules[i].per)));
  }
  return out;
}

std::string ratelimit_value(const Decision& d, std::span<const std::string> names) {
  std::string out;
  append_sf_string(out, policy_name(d.rule, names));
  out += ";r=" + std::to_string(d.remaining);
  out += ";t=" + std::to_string(seconds_rounded_up(d.reset));
  return out;
}

std::vector<HeaderField> rate_limit_fields(const Decision& d, std::string_view policy,
                                           std::span<const std::string> names) {
  std::vector<HeaderField> fields;
  fields.reserve(6);
  fields.push_back({kXRateLimitLimit, std::to_string(d.limit)});
  fields.push_back({kXRateLimitRemaining, std::to_string(d.remaining)});
  fields.push_back({kXRateLimitReset, x_ratelimit_reset_value(d)});
  if (!policy.empty()) fields.push_back({kRateLimitPolicy, std::string(policy)});
  fields.push_back({kRateLimit, ratelimit_value(d, names)});
  if (!d.allowed) fields.push_back({kRetryAfter, retry_after_value(d.retry_after)});
  return fields;
}

}  // namespace stella::gw::ratelimit
