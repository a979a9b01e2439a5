#include "stella/gateway/http/log_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "stella/core/clock.hpp"
#include "stella/core/text.hpp"

namespace stella::gw::http {

struct LogSink::State {
  int fd = -1;
  bool owned = false;
  std::mutex mutex;
  std::condition_variable wake;           // the writer: there is work, or stop
  std::condition_variable written;        // flush(): the writer caught up
  std::string pending;                    // whole lines, not yet taken by the writer
  std::uint64_t submitted = 0, done = 0;  // bytes accepted / written or dropped
  bool stop = false, finished = false;
  std::atomic<std::uint64_t> dropped{0};

  ~State() {
    if (owned) ::close(fd);
  }

  void drop(std::string_view lines) {
    const auto n = static_cast<std::uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
    dropped.fetch_add(std::max<std::uint64_t>(n, 1), std::memory_order_relaxed);
  }

  // Writes whole lines in pieces of at most PIPE_BUF bytes, so a pipe never interleaves them
  // with another writer's.
  void write_all(std::string_view data) {
    constexpr std::size_t kPiece = 4096;
    while (!data.empty()) {
      std::size_t n = data.size();
      if (n > kPiece) {
        const auto cut = data.rfind('\n', kPiece - 1);
        n = cut == std::string_view::npos ? kPiece : cut + 1;
      }
      std::string_view piece = data.substr(0, n);
      while (!piece.empty()) {
        const ssize_t w = ::write(fd, piece.data(), piece.size());
        if (w < 0) {
          if (errno == EINTR) continue;
          drop(piece);
          break;
        }
        piece.remove_prefix(static_cast<std::size_t>(w));
      }
      data.remove_prefix(n);
    }
  }

  // The writer looks every kWriteInterval, or at once when kWakeBytes are waiting (or a flush
  // or stop asks): producers then almost never pay for a wake-up, and a busy gateway makes a
  // few hundred writes a second instead of one per loop turn.
  static constexpr auto kWriteInterval = std::chrono::milliseconds(5);
  static constexpr std::size_t kWakeBytes = 64 * 1024;
  bool urgent = false;

  void run() {
    std::string batch;
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait_for(lock, kWriteInterval, [&] { return stop || urgent; });
      urgent = false;
      if (pending.empty()) {
        if (stop) break;
        continue;
      }
      batch.swap(pending);
      lock.unlock();
      write_all(batch);
      const std::size_t n = batch.size();
      batch.clear();
      if (batch.capacity() > kMaxBufferedBytes) std::string().swap(batch);
      lock.lock();
      done += n;
      written.notify_all();
    }
    finished = true;
    written.notify_all();
  }
};

LogSink::LogSink(std::shared_ptr<State> state, config::LogFormat format, bool request_lines)
    : state_(std::move(state)), format_(format), request_lines_(request_lines) {}

std::unique_ptr<LogSink> LogSink::open(const config::LoggingConfig& config, std::string& error) {
  const bool json = config.format == config::LogFormat::json;
  std::string out = config.output;
  if (out.empty()) out = json ? "stdout" : "stderr";
  auto state = std::make_shared<State>();
  if (out == "stdout") {
    state->fd = STDOUT_FILENO;
  } else if (out == "stderr") {
    state->fd = STDERR_FILENO;
  } else {
    state->fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (state->fd < 0) {
      error = "telemetry.logging.output: cannot open '" + out + "': " + std::strerror(errno);
      return nullptr;
    }
    state->owned = true;
  }
  // The thread shares the state: if the output is stalled at exit, it may outlive the sink.
  std::thread([state] { state->run(); }).detach();
  return std::unique_ptr<LogSink>(
      new LogSink(std::move(state), config.format, config.request_lines()));
}

LogSink::~LogSink() {
  flush(2000);
  std::lock_guard lock(state_->mutex);
  state_->stop = true;
  state_->wake.notify_all();
}

void LogSink::write_line(std::string_view lines) {
  if (lines.empty()) return;
  std::lock_guard lock(state_->mutex);
  if (state_->pending.size() + lines.size() > kMaxBufferedBytes) {
    state_->drop(lines);
    return;
  }
  state_->pending.append(lines);
  state_->submitted += lines.size();
  if (state_->pending.size() >= State::kWakeBytes && !state_->urgent) {
    state_->urgent = true;
    state_->wake.notify_one();
  }
}

bool LogSink::flush(int timeout_ms) {
  std::unique_lock lock(state_->mutex);
  const std::uint64_t target = state_->submitted;
  state_->urgent = true;
  state_->wake.notify_one();
  return state_->written.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                  [&] { return state_->done >= target || state_->finished; });
}

std::uint64_t LogSink::dropped() const noexcept {
  return state_->dropped.load(std::memory_order_relaxed);
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
    append_text_escaped(line, message);
    line += '\n';
  }
  write_line(line);
}

void append_text_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto hex = [&](unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = core::utf8_sequence_length(s, i);
      if (n == 0) {
        hex(c);
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      hex(c);
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const std::size_t n = core::utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace stella::gw::http
