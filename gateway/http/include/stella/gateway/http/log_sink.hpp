// Where the gateway's log lines go: lifecycle lines (startup, registrations, health changes,
// shutdown) and one line per request, as text for a person or as JSON lines for a collector
// (telemetry.logging; docs/observability.md).
//
// The event loops never wait on the output: write_line() appends to a bounded in-memory buffer
// and a writer thread of the sink's own makes the write(2) calls, every 5 ms (at once when
// 64 KiB are waiting). A reader that stops
// reading (a stalled log pipe) or a slow disk therefore fills that buffer, not the gateway's
// loops; past `kMaxBufferedBytes` further lines are dropped and counted (never a block). A
// failed write (full disk, closed pipe; SIGPIPE is ignored by `serve`) drops its lines and
// counts them too. Lines from different workers never interleave: the writer writes whole
// lines, in pieces of at most PIPE_BUF bytes cut at line ends (a file is opened with O_APPEND).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "stella/core/text.hpp"
#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::http {

class LogSink {
 public:
  /// Bytes held for the writer at most; beyond, lines are dropped and counted.
  static constexpr std::size_t kMaxBufferedBytes = 8 * 1024 * 1024;

  /// Opens the configured output ("stdout", "stderr", or a file, created or appended) and
  /// starts the writer thread. nullptr with `error` when the file cannot be opened.
  static std::unique_ptr<LogSink> open(const config::LoggingConfig& config, std::string& error);
  /// Writes what is buffered (waiting at most 2 s for a stalled output), then stops.
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  config::LogFormat format() const noexcept { return format_; }
  bool request_lines() const noexcept { return request_lines_; }

  /// A lifecycle line: "TIMESTAMP message" as text (control bytes and invalid UTF-8 escaped,
  /// so a peer's bytes cannot forge a line), {"timestamp","level","message"} as JSON. `level`
  /// is "info", "warn" or "error".
  void lifecycle(std::string_view level, std::string_view message);
  /// Queues whole lines (each ending in '\n') for the writer. Never blocks on the output.
  void write_line(std::string_view lines);
  /// Waits (at most `timeout_ms`) until everything queued so far has been written or dropped.
  /// True when it was.
  bool flush(int timeout_ms = 2000);

  /// Lines lost: the buffer was full, or their write failed.
  std::uint64_t dropped() const noexcept;

 private:
  struct State;
  LogSink(std::shared_ptr<State> state, config::LogFormat format, bool request_lines);
  std::shared_ptr<State> state_;
  config::LogFormat format_;
  bool request_lines_;
};

struct Exchange;
/// The JSON request log line of a finished exchange (with its '\n'): the seed's fields
/// (timestamp, level, message, correlationId, tenantId, method, path, service, durationMs,
/// status), then route, instance, outcome, bytesIn, bytesOut, traceId. Never a header value:
/// no token, Authorization or Cookie can reach it. The path is cut at 1 KiB.
std::string request_log_json(const Exchange& ex);
/// The same, appended to `out` (no allocation once `out` has grown).
void append_request_log_json(std::string& out, const Exchange& ex);

/// Log lines carry client and service bytes: their strings go through core's escaper.
using core::append_json_escaped;
/// For text lines: control bytes (line breaks included) written as \xHH and a backslash as \\,
/// invalid UTF-8 as \xHH per byte; everything else as it is.
void append_text_escaped(std::string& out, std::string_view s);
/// `s` with every invalid UTF-8 sequence replaced by U+FFFD (metric label values).
std::string to_valid_utf8(std::string_view s);

}  // namespace stella::gw::http
