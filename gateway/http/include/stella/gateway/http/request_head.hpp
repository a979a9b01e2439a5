// Strict, sans-I/O parsing of an HTTP/1.1 request head (request line + header fields).
//
// Why our own parser and not Beast's: the head is where request smuggling lives, and the rules
// here are stricter than any general-purpose parser's defaults (Beast accepts obs-fold, for
// one). Every byte is checked once, incrementally, so a client sending one byte at a time costs
// O(total) work, and the parser is fuzzed on its own (fuzz/http_head_fuzz.cpp). Responses are
// written with Beast.
//
// Refused, each with its status and a static reason (docs/http.md has the table):
//   400  bare CR or bare LF as a line end; NUL or another control byte; obs-fold (a line
//        starting with SP/HTAB); a malformed request line (exactly METHOD SP target SP version);
//        a method that is not a token; a target that is not origin-form ("/...") or "*";
//        an invalid field name or whitespace before ':'; Content-Length that is not digits,
//        repeated, or too large; Transfer-Encoding other than exactly one "chunked";
//        Content-Length with Transfer-Encoding; Transfer-Encoding in HTTP/1.0; HTTP/1.1
//        without exactly one Host
//   414  request line longer than max_request_line
//   431  a field longer than max_header_field, more than max_header_count fields, or a head
//        larger than max_header_bytes
//   505  a version other than HTTP/1.0 and HTTP/1.1
//
// Thread-safety: a parser is a plain value; use one per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stella::gw::http {

struct HeadLimits {
  std::size_t max_request_line = 8192;   // http.maxRequestLineSize
  std::size_t max_header_field = 8192;   // http.maxHeaderFieldSize (name + ':' + value)
  std::size_t max_header_bytes = 65536;  // http.maxHeaderBytes (whole head incl. the final CRLF)
  std::size_t max_header_count = 100;    // http.maxHeaderCount
};

struct HeaderField {
  std::string_view name;   // as sent (case preserved)
  std::string_view value;  // leading and trailing whitespace removed
};

/// A parsed head. Views point into the buffer given to parse(); they stay valid while that
/// buffer's first `size` bytes are not moved or overwritten.
struct RequestHead {
  std::string_view method;
  std::string_view target;  // origin-form "/path?query", or "*"
  int version_minor = 1;    // HTTP/1.<minor>
  std::vector<HeaderField> fields;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;          // Transfer-Encoding: chunked
  bool keep_alive = true;        // HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive
  bool expect_continue = false;  // "Expect: 100-continue"
  std::string_view host;
  std::size_t size = 0;  // bytes of the head, final CRLF included

  /// First field named `name` (case-insensitive), or empty.
  std::string_view field(std::string_view name) const noexcept;
  bool has_body() const noexcept { return chunked || content_length.value_or(0) > 0; }
};

enum class ParseStatus : std::uint8_t { need_more, done, error };

struct HttpError {
  unsigned status = 400;
  std::string_view reason;  // static string, e.g. "obs-fold is not allowed"
};

class HeadParser {
 public:
  explicit HeadParser(HeadLimits limits = {}) : limits_(limits) {}

  /// Starts a new head (keeps the field vector's capacity).
  void reset() noexcept;

  /// `data` holds every byte received for this head so far, from its first byte (the caller may
  /// move the buffer between calls, but its content must be the same prefix, grown). Scans only
  /// the new bytes. On done, `out` is filled with views into `data`; on error, error() says why.
  ParseStatus parse(std::string_view data, RequestHead& out);
  const HttpError& error() const noexcept { return error_; }
  /// True once at least one byte of a request line (not a leading empty line) arrived.
  bool started() const noexcept { return started_; }

 private:
  struct Span {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
  };
  ParseStatus fail(unsigned status, std::string_view reason);
  bool line(std::string_view data, std::size_t begin, std::size_t end);
  bool request_line(std::string_view line);
  bool field_line(std::string_view data, std::size_t begin, std::size_t end);
  bool finish(std::string_view data, RequestHead& out);

  HeadLimits limits_;
  std::size_t pos_ = 0;         // next byte to scan
  std::size_t line_begin_ = 0;  // first byte of the current line
  bool started_ = false;
  bool have_request_line_ = false;
  Span method_, target_;
  int version_minor_ = 1;
  std::vector<std::pair<Span, Span>> fields_;
  HttpError error_;
};

/// Strict chunked transfer-coding decoder (RFC 9112 §7.1). Chunk extensions are skipped
/// (bounded), trailer fields are validated as header fields (token name, ':', no control
/// bytes) and dropped. Refused with 400: a size that is not hex or longer than 16 digits,
/// whitespace, a missing CRLF after the data, bare CR/LF, obs-fold, control bytes or a
/// malformed field in a trailer; 413 once the decoded body passes `max_body`; 431 when a
/// trailer line passes max_header_field or all trailer lines pass max_header_bytes.
class ChunkedDecoder {
 public:
  ChunkedDecoder(std::uint64_t max_body, HeadLimits limits)
      : max_body_(max_body), limits_(limits) {}

  struct Result {
    ParseStatus status = ParseStatus::need_more;
    std::size_t consumed = 0;  // bytes of `in` used (the rest belongs to the next request)
  };
  /// Decodes as much of `in` as possible, appending body bytes to `out`.
  Result decode(std::string_view in, std::string& out);
  const HttpError& error() const noexcept { return error_; }
  std::uint64_t body_size() const noexcept { return total_; }

 private:
  enum class State : std::uint8_t { size, ext, size_lf, data, data_cr, data_lf, trailer, done };
  Result fail(std::size_t consumed, unsigned status, std::string_view reason);

  std::uint64_t max_body_;
  HeadLimits limits_;
  State state_ = State::size;
  std::uint64_t chunk_left_ = 0;
  int size_digits_ = 0;
  std::size_t ext_bytes_ = 0;
  std::size_t trailer_line_ = 0;   // bytes of the current trailer line
  std::size_t trailer_total_ = 0;  // bytes of all trailer lines
  bool trailer_cr_ = false;
  bool trailer_colon_ = false;  // the current trailer line has passed its field name
  std::uint64_t total_ = 0;
  HttpError error_;
};

/// RFC 9110 token character (method, field name).
constexpr bool is_tchar(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace stella::gw::http
