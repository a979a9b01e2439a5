// Where the gateway's log lines go: lifecycle lines (startup, registrations, health changes,
// shutdown) and one line per request, as text for a person or as JSON lines for a collector
// (telemetry.logging; docs/observability.md).
//
// Each line is written with one write(2) as soon as it is made — no buffering that a crash or a
// `kill` would lose, and lines from different workers never interleave (a file is opened with
// O_APPEND; request lines are kept under PIPE_BUF for pipes). A failed write (full disk,
// closed pipe) drops that line and counts it; it never stops or slows the gateway beyond the
// failed call.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::http {

class LogSink {
 public:
  /// Opens the configured output ("stdout", "stderr", or a file, created or appended).
  /// nullptr with `error` when the file cannot be opened.
  static std::unique_ptr<LogSink> open(const config::LoggingConfig& config, std::string& error);
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  config::LogFormat format() const noexcept { return format_; }
  bool request_lines() const noexcept { return request_lines_; }

  /// A lifecycle line: "TIMESTAMP message" as text, {"timestamp","level","message"} as JSON.
  /// `level` is "info", "warn" or "error".
  void lifecycle(std::string_view level, std::string_view message);
  /// Writes `line` (which must end in '\n') as it is.
  void write_line(std::string_view line);

  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  LogSink(int fd, bool owned, config::LogFormat format, bool request_lines)
      : fd_(fd), owned_(owned), format_(format), request_lines_(request_lines) {}
  int fd_;
  bool owned_;
  config::LogFormat format_;
  bool request_lines_;
  std::atomic<std::uint64_t> dropped_{0};
};

struct Exchange;
/// The JSON request log line of a finished exchange (with its '\n'): the seed's fields
/// (timestamp, level, message, correlationId, tenantId, method, path, service, durationMs,
/// status), then route, instance, outcome, bytesIn, bytesOut, traceId. Never a header value:
/// no token, Authorization or Cookie can reach it. The path is cut at 1 KiB.
std::string request_log_json(const Exchange& ex);

/// Appends `s` to `out` as the inside of a JSON string: quotes, backslashes and control bytes
/// escaped, invalid UTF-8 replaced by U+FFFD (log lines carry client and service bytes).
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace stella::gw::http
