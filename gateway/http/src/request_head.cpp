#include "stella/gateway/http/request_head.hpp"

#include <algorithm>
#include <limits>

#include "stella/core/text.hpp"

namespace stella::gw::http {
namespace {

// RFC 9110 §7.2 / RFC 3986 §3.2.2: uri-host [ ":" port ]. uri-host is an IP-literal in brackets
// or a reg-name / IPv4 address (unreserved, pct-encoded, sub-delims). Empty is allowed (RFC 9112
// §3.2: an empty Host for a URI without authority).
bool valid_host(std::string_view v) {
  std::size_t i = 0;
  if (!v.empty() && v[0] == '[') {
    const auto close = v.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : v.substr(1, close - 1)) {
      const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                      c == ':' || c == '.' || c == 'v' || c == 'V';
      if (!ok) return false;
    }
    i = close + 1;
  } else {
    for (; i < v.size() && v[i] != ':'; ++i) {
      const char c = v[i];
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
      if (!ok) return false;
    }
  }
  if (i == v.size()) return true;
  if (v[i] != ':') return false;
  const std::string_view port = v.substr(i + 1);
  return port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_vchar_or_ws(unsigned char c) noexcept {
  // Field values: VCHAR, obs-text, SP, HTAB. Everything else (controls, DEL) is refused.
  return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7F);
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Does the comma-separated list `value` contain `token` (case-insensitive)?
bool list_contains(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim_ows(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// The bytes that end a run of ordinary head bytes: CR (a line end), LF (bare: refused) and NUL.
constexpr bool is_head_special(unsigned char c) noexcept {
  return c == '\r' || c == '\n' || c == 0;
}
constexpr std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
  return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  return core::iequals_ascii(a, b);
}

std::string_view RequestHead::field(std::string_view name) const noexcept {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return f.value;
  return {};
}

void HeadParser::reset() noexcept {
  pos_ = 0;
  line_begin_ = 0;
  started_ = false;
  have_request_line_ = false;
  version_minor_ = 1;
  fields_.clear();
  error_ = {};
}

ParseStatus HeadParser::fail(unsigned status, std::string_view reason) {
  error_ = {status, reason};
  return ParseStatus::error;
}

ParseStatus HeadParser::parse(std::string_view data, RequestHead& out) {
  if (error_.reason.data() != nullptr) return ParseStatus::error;
  while (pos_ < data.size()) {
    // The run of ordinary bytes up to the next CR, LF or NUL, checked against the limits once
    // per run rather than per byte, with the outcome of a byte-by-byte check: the first byte that
    // makes the line (or the head) too long fails, a CR, LF or NUL before it is looked at first.
    const std::size_t line_limit =
        have_request_line_ ? limits_.max_header_field : limits_.max_request_line;
    const std::size_t line_fail = saturating_add(line_begin_, line_limit);  // its index
    const std::size_t head_fail = limits_.max_header_bytes;
    const std::size_t first_fail = std::min(line_fail, head_fail);
    const std::size_t scan_end = std::min(data.size(), saturating_add(first_fail, 1));
    std::size_t i = pos_;
    while (i < scan_end && !is_head_special(static_cast<unsigned char>(data[i])))
      ++i;
    if (i > pos_) {
      started_ = true;
      pos_ = i;
    }
    if (i > first_fail) {  // the byte at first_fail was an ordinary one
      if (line_fail <= head_fail)
        return have_request_line_ ? fail(431, "header field too large")
                                  : fail(414, "request line too long");
      return fail(431, "request head too large");
    }
    if (pos_ == data.size()) break;
    const unsigned char c = static_cast<unsigned char>(data[pos_]);
    if (c == '\n') return fail(400, "bare LF as a line end");
    if (c == 0) return fail(400, "NUL byte in the request head");
    // A CR: the end of a line.
    if (pos_ + 1 >= data.size()) return ParseStatus::need_more;  // need the LF
    if (data[pos_ + 1] != '\n') return fail(400, "bare CR in the request head");
    const std::size_t end = pos_;
    pos_ += 2;
    if (pos_ > limits_.max_header_bytes) return fail(431, "request head too large");
    if (end == line_begin_) {  // empty line
      if (!have_request_line_) {
        // RFC 9112 §2.2: ignore empty lines before the request line (bounded by the limit).
        if (pos_ > limits_.max_request_line) return fail(400, "too many empty lines");
        line_begin_ = pos_;
        continue;
      }
      if (!finish(data, out)) return ParseStatus::error;
      return ParseStatus::done;
    }
    if (!line(data, line_begin_, end)) return ParseStatus::error;
    line_begin_ = pos_;
  }
  return ParseStatus::need_more;
}

bool HeadParser::line(std::string_view data, std::size_t begin, std::size_t end) {
  if (!have_request_line_) {
    have_request_line_ = true;
    if (!request_line(data.substr(begin, end - begin))) return false;
    method_ = {0, 0};
    // Store spans relative to the buffer start.
    const std::string_view l = data.substr(begin, end - begin);
    const auto sp1 = l.find(' ');
    const auto sp2 = l.find(' ', sp1 + 1);
    method_ = {static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(sp1)};
    target_ = {static_cast<std::uint32_t>(begin + sp1 + 1),
               static_cast<std::uint32_t>(sp2 - sp1 - 1)};
    return true;
  }
  return field_line(data, begin, end);
}

bool HeadParser::request_line(std::string_view l) {
  const auto sp1 = l.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) {
    fail(400, "malformed request line");
    return false;
  }
  const auto sp2 = l.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1 || l.find(' ', sp2 + 1) != l.npos) {
    fail(400, "malformed request line");
    return false;
  }
  for (char ch : l.substr(0, sp1))
    if (!is_tchar(static_cast<unsigned char>(ch))) {
      fail(400, "invalid method");
      return false;
    }
  const std::string_view target = l.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!(target.front() == '/' || target == "*")) {
    fail(400, "request target must be origin-form (\"/path\")");
    return false;
  }
  for (char ch : target) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7F) {
      fail(400, "invalid byte in the request target");
      return false;
    }
  }
  const std::string_view version = l.substr(sp2 + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    fail(400, "malformed HTTP version");
    return false;
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    fail(505, "HTTP version not supported");
    return false;
  }
  version_minor_ = version[7] - '0';
  return true;
}

bool HeadParser::field_line(std::string_view data, std::size_t begin, std::size_t end) {
  const std::string_view l = data.substr(begin, end - begin);
  if (l.front() == ' ' || l.front() == '\t') {
    fail(400, "obs-fold (a line starting with whitespace) is not allowed");
    return false;
  }
  const auto colon = l.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    fail(400, "malformed header field");
    return false;
  }
  for (char ch : l.substr(0, colon))
    if (!is_tchar(static_cast<unsigned char>(ch))) {
      fail(400, "invalid header field name");
      return false;
    }
  for (char ch : l.substr(colon + 1))
    if (!is_vchar_or_ws(static_cast<unsigned char>(ch))) {
      fail(400, "control byte in a header field value");
      return false;
    }
  if (fields_.size() == limits_.max_header_count) {
    fail(431, "too many header fields");
    return false;
  }
  fields_.push_back({{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(colon)},
                     {static_cast<std::uint32_t>(begin + colon + 1),
                      static_cast<std::uint32_t>(l.size() - colon - 1)}});
  return true;
}

bool HeadParser::finish(std::string_view data, RequestHead& out) {
  auto view = [&](Span s) { return data.substr(s.offset, s.size); };
  out.method = view(method_);
  out.target = view(target_);
  out.version_minor = version_minor_;
  out.fields.clear();
  out.content_length.reset();
  out.chunked = false;
  out.expect_continue = false;
  out.host = {};
  out.size = pos_;
  bool close = false, keep_alive_token = false;
  int hosts = 0, transfer_encodings = 0;
  for (const auto& [n, v] : fields_) {
    HeaderField f{view(n), trim_ows(view(v))};
    out.fields.push_back(f);
    if (iequals(f.name, "content-length")) {
      if (out.content_length) {
        fail(400, "repeated Content-Length");
        return false;
      }
      if (f.value.empty() || f.value.size() > 19) {
        fail(400, "malformed Content-Length");
        return false;
      }
      std::uint64_t n64 = 0;
      for (char ch : f.value) {
        if (ch < '0' || ch > '9') {
          fail(400, "malformed Content-Length");
          return false;
        }
        n64 = n64 * 10 + static_cast<std::uint64_t>(ch - '0');
      }
      out.content_length = n64;
    } else if (iequals(f.name, "transfer-encoding")) {
      ++transfer_encodings;
      if (!iequals(f.value, "chunked")) {
        fail(400, "unsupported Transfer-Encoding (only a single \"chunked\" is accepted)");
        return false;
      }
    } else if (iequals(f.name, "host")) {
      ++hosts;
      if (!valid_host(f.value)) {
        fail(400, "malformed Host header");
        return false;
      }
      out.host = f.value;
    } else if (iequals(f.name, "connection")) {
      if (list_contains(f.value, "close")) close = true;
      if (list_contains(f.value, "keep-alive")) keep_alive_token = true;
    } else if (iequals(f.name, "expect")) {
      if (!iequals(f.value, "100-continue")) {
        fail(417, "unsupported Expect");
        return false;
      }
      out.expect_continue = version_minor_ == 1;  // RFC 9110 §10.1.1: never to HTTP/1.0
    }
  }
  if (transfer_encodings > 1) {
    fail(400, "repeated Transfer-Encoding");
    return false;
  }
  if (transfer_encodings == 1) {
    if (version_minor_ == 0) {
      fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    if (out.content_length) {
      fail(400, "Content-Length together with Transfer-Encoding");
      return false;
    }
    out.chunked = true;
  }
  if (version_minor_ == 1 && hosts != 1) {
    fail(400, hosts == 0 ? "missing Host header" : "repeated Host header");
    return false;
  }
  if (hosts > 1) {
    fail(400, "repeated Host header");
    return false;
  }
  out.keep_alive = version_minor_ == 1 ? !close : (keep_alive_token && !close);
  return true;
}

// ---- chunked -------------------------------------------------------------------------------

ChunkedDecoder::Result ChunkedDecoder::fail(std::size_t consumed, unsigned status,
                                            std::string_view reason) {
  error_ = {status, reason};
  return {ParseStatus::error, consumed};
}

ChunkedDecoder::Result ChunkedDecoder::decode(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size()) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    switch (state_) {
      case State::size: {
        int digit = -1;
        if (c >= '0' && c <= '9')
          digit = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
          digit = (c | 0x20) - 'a' + 10;
        if (digit >= 0) {
          if (++size_digits_ > 16) return fail(i, 400, "chunk size too long");
          chunk_left_ = chunk_left_ * 16 + static_cast<std::uint64_t>(digit);
          ++i;
          break;
        }
        if (size_digits_ == 0) return fail(i, 400, "malformed chunk size");
        if (c == ';') {
          state_ = State::ext;
          ++i;
          break;
        }
        if (c == '\r') {
          state_ = State::size_lf;
          ++i;
          break;
        }
        return fail(i, 400, "malformed chunk size");
      }
      case State::ext:
        if (c == '\r') {
          state_ = State::size_lf;
        } else if (c == '\n' || c == 0) {
          return fail(i, 400, "malformed chunk extension");
        } else if (++ext_bytes_ > 4096) {
          return fail(i, 400, "chunk extension too long");
        }
        ++i;
        break;
      case State::size_lf:
        if (c != '\n') return fail(i, 400, "bare CR after a chunk size");
        ++i;
        size_digits_ = 0;
        ext_bytes_ = 0;
        if (chunk_left_ == 0) {
          state_ = State::trailer;
          trailer_line_ = 0;
          trailer_cr_ = false;
          trailer_colon_ = false;
        } else {
          if (chunk_left_ > max_body_ - total_) return fail(i, 413, "request body too large");
          state_ = State::data;
        }
        break;
      case State::data: {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, in.size() - i));
        out.append(in.data() + i, n);
        i += n;
        chunk_left_ -= n;
        total_ += n;
        if (chunk_left_ == 0) state_ = State::data_cr;
        break;
      }
      case State::data_cr:
        if (c != '\r') return fail(i, 400, "missing CRLF after chunk data");
        state_ = State::data_lf;
        ++i;
        break;
      case State::data_lf:
        if (c != '\n') return fail(i, 400, "missing CRLF after chunk data");
        state_ = State::size;
        ++i;
        break;
      case State::trailer:
        if (trailer_cr_) {
          if (c != '\n') return fail(i, 400, "bare CR in a trailer");
          ++i;
          trailer_cr_ = false;
          if (trailer_line_ == 0) {
            state_ = State::done;
            return {ParseStatus::done, i};
          }
          trailer_line_ = 0;
          trailer_colon_ = false;
          break;
        }
        if (c == '\r') {
          if (trailer_line_ > 0 && !trailer_colon_)
            return fail(i, 400, "malformed trailer field (no ':')");
          trailer_cr_ = true;
        } else if (c == '\n') {
          return fail(i, 400, "bare LF in a trailer");
        } else if (trailer_line_ == 0 && (c == ' ' || c == '\t')) {
          return fail(i, 400, "obs-fold in a trailer");
        } else if (c != '\t' && (c < 0x20 || c == 0x7F)) {
          return fail(i, 400, "control byte in a trailer");
        } else if (!trailer_colon_ && c != ':' && !is_tchar(c)) {
          return fail(i, 400, "invalid trailer field name");
        } else if (!trailer_colon_ && c == ':' && trailer_line_ == 0) {
          return fail(i, 400, "empty trailer field name");
        } else {
          if (c == ':') trailer_colon_ = true;
          ++trailer_line_;
          if (trailer_line_ > limits_.max_header_field) return fail(i, 431, "trailer too large");
          if (++trailer_total_ > limits_.max_header_bytes)
            return fail(i, 431, "trailers too large");
        }
        ++i;
        break;
      case State::done:
        return {ParseStatus::done, i};
    }
  }
  return {state_ == State::done ? ParseStatus::done : ParseStatus::need_more, i};
}

}  // namespace stella::gw::http
