#include "stella/gateway/http/log_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "stella/core/clock.hpp"

namespace stella::gw::http {

std::unique_ptr<LogSink> LogSink::open(const config::LoggingConfig& config, std::string& error) {
  const bool json = config.format == config::LogFormat::json;
  std::string out = config.output;
  if (out.empty()) out = json ? "stdout" : "stderr";
  int fd = -1;
  bool owned = false;
  if (out == "stdout") {
    fd = STDOUT_FILENO;
  } else if (out == "stderr") {
    fd = STDERR_FILENO;
  } else {
    fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      error = "telemetry.logging.output: cannot open '" + out + "': " + std::strerror(errno);
      return nullptr;
    }
    owned = true;
  }
  return std::unique_ptr<LogSink>(new LogSink(fd, owned, config.format, config.request_lines()));
}

LogSink::~LogSink() {
  if (owned_) ::close(fd_);
}

void LogSink::write_line(std::string_view line) {
  while (!line.empty()) {
    const ssize_t n = ::write(fd_, line.data(), line.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    line.remove_prefix(static_cast<std::size_t>(n));
  }
}

void LogSink::lifecycle(std::string_view level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 96);
  if (format_ == config::LogFormat::json) {
    line += R"({"timestamp":")";
    line += core::wall_clock_rfc3339();
    line += R"(","level":")";
    line += level;
    line += R"(","message":")";
    append_json_escaped(line, message);
    line += "\"}\n";
  } else {
    line += core::wall_clock_rfc3339();
    line += ' ';
    line += message;
    line += '\n';
  }
  write_line(line);
}

namespace {
// Length of the valid UTF-8 sequence at s[i], 0 if invalid (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c == 0xE0)
    n = 3, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEC)
    n = 3;
  else if (c == 0xED)
    n = 3, hi = 0x9F;
  else if (c >= 0xEE && c <= 0xEF)
    n = 3;
  else if (c == 0xF0)
    n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3)
    n = 4;
  else if (c == 0xF4)
    n = 4, hi = 0x8F;
  else
    return 0;
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}
}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

}  // namespace stella::gw::http
