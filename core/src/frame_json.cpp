#include "stella/core/frame_json.hpp"

#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace stella::core {
namespace {

using json = nlohmann::ordered_json;

// ---- bytes <-> JSON ------------------------------------------------------------------------

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    constexpr std::array<std::uint32_t, 4> kMin{0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t v = std::uint32_t{static_cast<unsigned char>(in[i])} << 16;
    if (rest == 2) v |= std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '=') {
      if (i + 2 < in.size()) return false;  // '=' only in the last two places
      ++pad;
      continue;
    }
    if (pad > 0) return false;
    const auto pos = kB64.find(c);
    if (pos == std::string_view::npos) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return true;
}

json bytes_to_json(std::string_view s) {
  if (valid_utf8(s)) return std::string(s);
  return json{{"base64", base64_encode(s)}};
}

// Thrown inside frame_from_json only, turned into its error message; never escapes.
struct JsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw JsonError(path_ + "." + key + ": " + what);
  }

  std::string bytes(const char* key, bool required = false) const {
    const json* v = find(key);
    if (v == nullptr) {
      if (required) fail(key, "missing");
      return {};
    }
    return bytes_value(*v, key);
  }

  std::string bytes_value(const json& v, const std::string& key) const {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("base64") && v["base64"].is_string()) {
      std::string out;
      if (!base64_decode(v["base64"].get<std::string>(), out)) fail(key, "invalid base64");
      return out;
    }
    fail(key, "expected a string or {\"base64\": ...}");
  }

  template <class T>
  T uint(const char* key, bool required = false) const {
    const json* v = find(key);
    if (v == nullptr) {
      if (required) fail(key, "missing");
      return T{};
    }
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<std::int64_t>() >= 0)) {
      fail(key, "expected a non-negative integer");
    }
    const auto n = v->get<std::uint64_t>();
    if (n > std::numeric_limits<T>::max()) fail(key, "out of range");
    return static_cast<T>(n);
  }

  bool boolean(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return false;
    if (!v->is_boolean()) fail(key, "expected true or false");
    return v->get<bool>();
  }

  // A code that may be given as an integer or as one of its names.
  template <class T, std::size_t N>
  T code(const char* key, const std::array<std::string_view, N>& names, bool required) const {
    const json* v = find(key);
    if (v == nullptr) {
      if (required) fail(key, "missing");
      return T{};
    }
    if (v->is_string()) {
      const auto s = v->get<std::string>();
      for (std::size_t i = 0; i < N; ++i) {
        if (!names[i].empty() && names[i] == s) return static_cast<T>(i);
      }
      fail(key, "unknown name '" + s + "'");
    }
    return uint<T>(key, required);
  }

  const json& array(const char* key) const {
    static const json kEmpty = json::array();
    const json* v = find(key);
    if (v == nullptr) return kEmpty;
    if (!v->is_array()) fail(key, "expected an array");
    return *v;
  }

  std::string child(const char* key, std::size_t i) const {
    return path_ + "." + key + "[" + std::to_string(i) + "]";
  }

  const json& raw() const { return j_; }

 private:
  const json& j_;
  std::string path_;
};

constexpr std::array<std::string_view, 5> kHealthNames{"unknown", "healthy", "degraded",
                                                       "unhealthy", "draining"};
constexpr std::array<std::string_view, 7> kRejectNames{
    "",          "malformed_template", "conflict", "limit_exceeded", "invalid_method",
    "duplicate", "forbidden"};
constexpr const auto& kCancelNames = kCancelReasonNames;
constexpr std::array<std::string_view, 6> kDrainNames{
    "graceful",       "protocol_error", "unsupported_version",
    "hello_rejected", "overloaded",     "internal_error"};

template <std::size_t N>
std::string_view code_name(const std::array<std::string_view, N>& names, std::size_t v) {
  return v < N && !names[v].empty() ? names[v] : std::string_view("unknown");
}

json claims_to_json(const std::vector<Claim>& claims) {
  json a = json::array();
  for (const auto& c : claims)
    a.push_back({{"type", bytes_to_json(c.type)}, {"value", bytes_to_json(c.value)}});
  return a;
}

json headers_to_json(const std::vector<Header>& headers) {
  json a = json::array();
  for (const auto& h : headers)
    a.push_back({bytes_to_json(h.name), bytes_to_json(h.value)});
  return a;
}

std::vector<Claim> claims_from_json(const Reader& r, const char* key) {
  std::vector<Claim> out;
  const json& a = r.array(key);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_object()) throw JsonError(r.child(key, i) + ": expected an object");
    Reader c(a[i], r.child(key, i));
    out.push_back({c.bytes("type", true), c.bytes("value")});
  }
  return out;
}

std::vector<Header> headers_from_json(const Reader& r, const char* key) {
  std::vector<Header> out;
  const json& a = r.array(key);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string where = r.child(key, i);
    if (!a[i].is_array() || a[i].size() != 2) throw JsonError(where + ": expected [name, value]");
    Reader h(a[i], where);
    out.push_back({h.bytes_value(a[i][0], "name"), h.bytes_value(a[i][1], "value")});
  }
  return out;
}

// ---- to JSON, one overload per frame body ------------------------------------------------

void body_to_json(const Hello& h, json& j) {
  j["version_min"] = h.version_min;
  j["version_max"] = h.version_max;
  j["service"] = bytes_to_json(h.service);
  j["service_version"] = bytes_to_json(h.service_version);
  j["instance_id"] = bytes_to_json(h.instance_id);
  j["region"] = bytes_to_json(h.region);
  j["max_in_flight"] = h.max_in_flight;
  j["request_window"] = h.request_window;
  json eps = json::array();
  for (const auto& e : h.endpoints) {
    eps.push_back({{"method", bytes_to_json(e.method)},
                   {"path", bytes_to_json(e.path)},
                   {"timeout_ms", e.timeout_ms},
                   {"streaming", e.streaming},
                   {"required_claims", claims_to_json(e.required_claims)},
                   {"openapi", bytes_to_json(e.openapi)},
                   {"anonymous", e.anonymous}});
  }
  j["endpoints"] = std::move(eps);
}

void body_to_json(const HelloAck& a, json& j) {
  j["version"] = a.version;
  json acc = json::array();
  for (const auto& e : a.accepted) {
    acc.push_back({{"method", bytes_to_json(e.method)}, {"path", bytes_to_json(e.path)}});
  }
  j["accepted"] = std::move(acc);
  json rej = json::array();
  for (const auto& e : a.rejected) {
    rej.push_back({{"method", bytes_to_json(e.method)},
                   {"path", bytes_to_json(e.path)},
                   {"reason", e.reason},
                   {"reason_name", code_name(kRejectNames, e.reason)},
                   {"message", bytes_to_json(e.message)}});
  }
  j["rejected"] = std::move(rej);
  j["heartbeat_interval_ms"] = a.heartbeat_interval_ms;
  j["node_id"] = bytes_to_json(a.node_id);
  j["max_payload"] = a.max_payload;
  j["stream_window"] = a.stream_window;
  j["request_credit"] = a.request_credit;
}

void body_to_json(const Heartbeat& h, json& j) {
  j["sequence"] = h.sequence;
  j["timestamp_us"] = h.timestamp_us;
  j["status"] = code_name(kHealthNames, static_cast<std::size_t>(h.status));
  j["in_flight"] = h.in_flight;
}

void body_to_json(const Request& r, json& j) {
  j["method"] = bytes_to_json(r.method);
  j["path"] = bytes_to_json(r.path);
  j["query"] = bytes_to_json(r.query);
  j["headers"] = headers_to_json(r.headers);
  j["body"] = bytes_to_json(r.body);
  j["timeout_ms"] = r.timeout_ms;
  j["correlation_id"] = bytes_to_json(r.correlation_id);
  j["tenant"] = bytes_to_json(r.tenant);
  j["subject"] = bytes_to_json(r.subject);
  json scopes = json::array();
  for (const auto& s : r.scopes)
    scopes.push_back(bytes_to_json(s));
  j["scopes"] = std::move(scopes);
  j["claims"] = claims_to_json(r.claims);
  j["traceparent"] = bytes_to_json(r.traceparent);
  j["tracestate"] = bytes_to_json(r.tracestate);
  j["route"] = bytes_to_json(r.route);
  j["client_id"] = bytes_to_json(r.client_id);
  j["dpop_jkt"] = bytes_to_json(r.dpop_jkt);
  j["cert_thumbprint"] = bytes_to_json(r.cert_thumbprint);
}

void body_to_json(const Response& r, json& j) {
  j["status"] = r.status;
  j["headers"] = headers_to_json(r.headers);
  j["body"] = bytes_to_json(r.body);
}

void body_to_json(const StreamData& d, json& j) {
  j["data"] = bytes_to_json(d.data);
}

void body_to_json(const Cancel& c, json& j) {
  j["reason"] = c.reason;
  j["reason_name"] = code_name(kCancelNames, c.reason);
  j["message"] = bytes_to_json(c.message);
}

void body_to_json(const Drain& d, json& j) {
  j["code"] = d.code;
  j["code_name"] = code_name(kDrainNames, d.code);
  j["last_stream_id"] = d.last_stream_id;
  j["timeout_ms"] = d.timeout_ms;
  j["message"] = bytes_to_json(d.message);
}

void body_to_json(const Credit& c, json& j) {
  j["increment"] = c.increment;
}

void body_to_json(const UnknownFrame& u, json& j) {
  j["type_code"] = u.type;
  j["payload"] = bytes_to_json(u.payload);
}

// ---- from JSON ----------------------------------------------------------------------------

FrameBody body_from_json(std::uint8_t type, const Reader& r) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::hello: {
      Hello h;
      h.version_min = r.uint<std::uint16_t>("version_min", true);
      h.version_max = r.uint<std::uint16_t>("version_max", true);
      h.service = r.bytes("service", true);
      h.service_version = r.bytes("service_version");
      h.instance_id = r.bytes("instance_id", true);
      h.region = r.bytes("region");
      h.max_in_flight = r.uint<std::uint32_t>("max_in_flight");
      h.request_window = r.uint<std::uint32_t>("request_window");
      const json& eps = r.array("endpoints");
      for (std::size_t i = 0; i < eps.size(); ++i) {
        if (!eps[i].is_object()) throw JsonError(r.child("endpoints", i) + ": expected an object");
        Reader e(eps[i], r.child("endpoints", i));
        h.endpoints.push_back({e.bytes("method", true), e.bytes("path", true),
                               e.uint<std::uint32_t>("timeout_ms"), e.boolean("streaming"),
                               claims_from_json(e, "required_claims"), e.bytes("openapi"),
                               e.boolean("anonymous")});
      }
      return h;
    }
    case FrameType::hello_ack: {
      HelloAck a;
      a.version = r.uint<std::uint16_t>("version", true);
      const json& acc = r.array("accepted");
      for (std::size_t i = 0; i < acc.size(); ++i) {
        Reader e(acc[i], r.child("accepted", i));
        if (!acc[i].is_object()) throw JsonError(r.child("accepted", i) + ": expected an object");
        a.accepted.push_back({e.bytes("method", true), e.bytes("path", true)});
      }
      const json& rej = r.array("rejected");
      for (std::size_t i = 0; i < rej.size(); ++i) {
        Reader e(rej[i], r.child("rejected", i));
        if (!rej[i].is_object()) throw JsonError(r.child("rejected", i) + ": expected an object");
        a.rejected.push_back({e.bytes("method", true), e.bytes("path", true),
                              e.code<std::uint16_t>("reason", kRejectNames, true),
                              e.bytes("message")});
      }
      a.heartbeat_interval_ms = r.uint<std::uint32_t>("heartbeat_interval_ms");
      a.node_id = r.bytes("node_id");
      a.max_payload = r.uint<std::uint32_t>("max_payload");
      a.stream_window = r.uint<std::uint32_t>("stream_window");
      a.request_credit = r.boolean("request_credit");
      return a;
    }
    case FrameType::heartbeat: {
      Heartbeat h;
      h.sequence = r.uint<std::uint64_t>("sequence", true);
      h.timestamp_us = r.uint<std::uint64_t>("timestamp_us", true);
      const auto s = r.code<std::uint8_t>("status", kHealthNames, true);
      if (s >= kHealthNames.size()) r.fail("status", "out of range");
      h.status = static_cast<HealthStatus>(s);
      h.in_flight = r.uint<std::uint32_t>("in_flight");
      return h;
    }
    case FrameType::request: {
      Request q;
      q.method = r.bytes("method", true);
      q.path = r.bytes("path", true);
      q.query = r.bytes("query");
      q.headers = headers_from_json(r, "headers");
      q.body = r.bytes("body");
      q.timeout_ms = r.uint<std::uint32_t>("timeout_ms");
      q.correlation_id = r.bytes("correlation_id");
      q.tenant = r.bytes("tenant");
      q.subject = r.bytes("subject");
      const json& scopes = r.array("scopes");
      for (std::size_t i = 0; i < scopes.size(); ++i) {
        q.scopes.push_back(r.bytes_value(scopes[i], "scopes[" + std::to_string(i) + "]"));
      }
      q.claims = claims_from_json(r, "claims");
      q.traceparent = r.bytes("traceparent");
      q.tracestate = r.bytes("tracestate");
      q.route = r.bytes("route");
      q.client_id = r.bytes("client_id");
      q.dpop_jkt = r.bytes("dpop_jkt");
      q.cert_thumbprint = r.bytes("cert_thumbprint");
      return q;
    }
    case FrameType::response: {
      Response p;
      p.status = r.uint<std::uint16_t>("status", true);
      p.headers = headers_from_json(r, "headers");
      p.body = r.bytes("body");
      return p;
    }
    case FrameType::stream_data:
      return StreamData{r.bytes("data")};
    case FrameType::cancel:
      return Cancel{r.code<std::uint16_t>("reason", kCancelNames, true), r.bytes("message")};
    case FrameType::drain:
      return Drain{r.code<std::uint16_t>("code", kDrainNames, true),
                   r.uint<std::uint32_t>("last_stream_id"), r.uint<std::uint32_t>("timeout_ms"),
                   r.bytes("message")};
    case FrameType::credit:
      return Credit{r.uint<std::uint32_t>("increment", true)};
  }
  return UnknownFrame{type, r.bytes("payload")};
}

}  // namespace

json frame_to_json(const Frame& frame) {
  json j;
  const std::uint8_t type = frame.type_code();
  j["type"] = std::string(frame_type_name(type));
  j["stream_id"] = frame.stream_id;
  j["flags"] = frame.flags;
  json names = json::array();
  if (frame.flags & flags::kEndStream) names.push_back("END_STREAM");
  if (frame.flags & flags::kAck) names.push_back("ACK");
  j["flag_names"] = std::move(names);
  std::visit([&](const auto& body) { body_to_json(body, j); }, frame.body);
  return j;
}

bool frame_from_json(const json& j, Frame& out, std::string& error) {
  try {
    if (!j.is_object()) throw JsonError("frame: expected a JSON object");
    auto t = j.find("type");
    if (t == j.end() || !t->is_string()) throw JsonError("frame.type: missing or not a string");
    const auto name = t->get<std::string>();
    std::uint8_t type = 0;
    Reader r(j, name);
    if (name == "UNKNOWN") {
      type = r.uint<std::uint8_t>("type_code", true);
      if (frame_type_name(type) != "UNKNOWN") r.fail("type_code", "is a known frame type");
    } else if (!frame_type_from_name(name, type)) {
      throw JsonError("frame.type: unknown frame type '" + name + "'");
    }
    Frame f;
    f.stream_id = r.uint<std::uint32_t>("stream_id");
    f.flags = r.uint<std::uint16_t>("flags");
    f.body = body_from_json(type, r);
    out = std::move(f);
    return true;
  } catch (const JsonError& e) {
    error = e.what();
  } catch (const json::exception& e) {
    error = e.what();
  }
  return false;
}

std::string frame_to_text(const Frame& frame) {
  const json j = frame_to_json(frame);
  std::ostringstream os;
  os << j["type"].get<std::string>() << " stream=" << frame.stream_id << " flags=0x" << std::hex
     << frame.flags << std::dec;
  for (const auto& n : j["flag_names"])
    os << ' ' << n.get<std::string>();
  os << '\n';
  for (const auto& [key, value] : j.items()) {
    if (key == "type" || key == "stream_id" || key == "flags" || key == "flag_names") continue;
    os << "  " << key << ": ";
    if (value.is_string()) {
      os << value.get<std::string>();
    } else {
      os << value.dump();
    }
    os << '\n';
  }
  return os.str();
}

}  // namespace stella::core
