#include "stella/core/frame.hpp"

#include <array>

namespace stella::core {
namespace {

struct TypeName {
  std::uint8_t code;
  std::string_view name;
};

constexpr std::array<TypeName, 9> kTypeNames{{
    {0x01, "HELLO"},
    {0x02, "HELLO_ACK"},
    {0x03, "HEARTBEAT"},
    {0x04, "REQUEST"},
    {0x05, "RESPONSE"},
    {0x06, "STREAM_DATA"},
    {0x07, "CANCEL"},
    {0x08, "DRAIN"},
    {0x09, "CREDIT"},
}};

}  // namespace

std::uint8_t Frame::type_code() const noexcept {
  if (const auto* unknown = std::get_if<UnknownFrame>(&body)) return unknown->type;
  // The variant's alternatives are declared in wire order starting at 0x01.
  return static_cast<std::uint8_t>(body.index() + 1);
}

std::string_view frame_type_name(std::uint8_t type_code) noexcept {
  for (const auto& t : kTypeNames) {
    if (t.code == type_code) return t.name;
  }
  return "UNKNOWN";
}

bool frame_type_from_name(std::string_view name, std::uint8_t& type_code) noexcept {
  for (const auto& t : kTypeNames) {
    if (t.name == name) {
      type_code = t.code;
      return true;
    }
  }
  return false;
}

StreamIdRule stream_id_rule(std::uint8_t type_code) noexcept {
  switch (static_cast<FrameType>(type_code)) {
    case FrameType::hello:
    case FrameType::hello_ack:
    case FrameType::heartbeat:
    case FrameType::drain:
      return StreamIdRule::zero;
    case FrameType::request:
    case FrameType::response:
    case FrameType::stream_data:
    case FrameType::cancel:
    case FrameType::credit:
      return StreamIdRule::non_zero;
  }
  return StreamIdRule::any;
}

namespace {
std::size_t held_bytes(const std::vector<Header>& headers) noexcept {
  std::size_t n = headers.capacity() * sizeof(Header);
  for (const Header& h : headers)
    n += h.name.capacity() + h.value.capacity();
  return n;
}
}  // namespace

std::size_t held_bytes(const Request& r) noexcept {
  std::size_t n = held_bytes(r.headers) + r.scopes.capacity() * sizeof(std::string) +
                  r.claims.capacity() * sizeof(Claim);
  for (const std::string& s : r.scopes)
    n += s.capacity();
  for (const Claim& c : r.claims)
    n += c.type.capacity() + c.value.capacity();
  for (const std::string* s :
       {&r.method, &r.path, &r.query, &r.body, &r.correlation_id, &r.tenant, &r.subject,
        &r.traceparent, &r.tracestate, &r.route, &r.client_id, &r.dpop_jkt, &r.cert_thumbprint})
    n += s->capacity();
  return n;
}

std::size_t held_bytes(const Response& r) noexcept {
  return held_bytes(r.headers) + r.body.capacity();
}

}  // namespace stella::core
