// Helpers for end-to-end tests: run the real stella-gw binary (gateway and demo services) as
// processes, talk HTTP to it over raw sockets, and wait on conditions with deadlines.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace stella::e2e {

using namespace std::chrono_literals;

/// Polls `cond` until it holds or `timeout` passes (never a fixed sleep as the assertion).
inline bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A child process whose stdout+stderr go to a log file.
class Process {
 public:
  /// `stdin_pipe`: the child's stdin is a pipe this object holds open until it is destroyed
  /// (for children that run until their stdin closes).
  Process(std::vector<std::string> args, std::filesystem::path log, bool stdin_pipe = false)
      : log_(std::move(log)) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int pipe_fds[2] = {-1, -1};
    if (stdin_pipe && ::pipe2(pipe_fds, O_CLOEXEC) == 0) {
      posix_spawn_file_actions_adddup2(&fa, pipe_fds[0], 0);
      stdin_ = pipe_fds[1];
    }
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
    if (pipe_fds[0] >= 0) ::close(pipe_fds[0]);
  }
  ~Process() {
    if (stdin_ >= 0) ::close(stdin_);
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  std::string log() const { return slurp(log_); }
  bool log_contains(const std::string& s) const { return log().find(s) != std::string::npos; }
  void signal(int sig) { ::kill(pid_, sig); }
  /// Exit status (WEXITSTATUS), -1 on timeout or abnormal end.
  int wait_exit(std::chrono::milliseconds timeout = 20s) {
    int st = 0;
    const bool done = eventually(
        [&] {
          const pid_t r = ::waitpid(pid_, &st, WNOHANG);
          return r == pid_;
        },
        timeout);
    if (!done) return -1;
    exited_ = true;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = 0;
  int stdin_ = -1;
  bool exited_ = false;
};

// A TCP socket bound to an ephemeral loopback port (`port`), listening when `backlog` > 0.
inline int bind_loopback(std::uint16_t& port, int backlog = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  if (backlog > 0) ::listen(fd, backlog);
  return fd;
}

// A free loopback port (bound and released: a process started right after can take it).
inline std::uint16_t free_port() {
  std::uint16_t port = 0;
  ::close(bind_loopback(port));
  return port;
}

// A socket connected to 127.0.0.1:`port`, or -1.
inline int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// A blocking client socket with a receive deadline.
class Client {
 public:
  explicit Client(std::uint16_t port) : fd_(connect_loopback(port)) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  /// Ends both directions without releasing the descriptor: a send() blocked in another thread
  /// returns (close() would race with it).
  void shutdown_both() { ::shutdown(fd_, SHUT_RDWR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  /// Reads what arrives until `enough(buffer)` holds, the peer closes, or `timeout`.
  /// Returns the bytes; closed() tells whether the peer closed.
  std::string read_until(const std::function<bool(const std::string&)>& enough,
                         std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!enough(buf_)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char tmp[16384];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
    return buf_;
  }
  /// Reads until the peer closes (or timeout).
  std::string read_all(std::chrono::milliseconds timeout = 10s) {
    return read_until([this](const std::string&) { return closed_; }, timeout);
  }
  bool closed() const { return closed_; }
  std::string& buffer() { return buf_; }

 private:
  int fd_ = -1;
  bool closed_ = false;
  std::string buf_;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names (last one wins)
  std::string body;
  bool chunked = false;
  std::size_t size = 0;  // bytes of the whole response in the buffer
};

inline std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Parses one complete response at the start of `bytes`; nullopt while incomplete.
inline std::optional<HttpResponse> parse_response(const std::string& bytes, bool head = false) {
  const auto end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  HttpResponse r;
  std::istringstream in(bytes.substr(0, end));
  std::string line;
  std::getline(in, line);
  if (line.size() < 12) return std::nullopt;
  r.status = std::stoi(line.substr(9, 3));
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto c = line.find(':');
    if (c == std::string::npos) continue;
    std::string v = line.substr(c + 1);
    while (!v.empty() && v.front() == ' ')
      v.erase(0, 1);
    r.headers[lower(line.substr(0, c))] = v;
  }
  std::size_t pos = end + 4;
  if (head || r.status == 204 || r.status == 304 || r.status < 200) {
    r.size = pos;
    return r;
  }
  if (lower(r.headers["transfer-encoding"]) == "chunked") {
    r.chunked = true;
    for (;;) {
      const auto le = bytes.find("\r\n", pos);
      if (le == std::string::npos) return std::nullopt;
      const std::size_t n = std::stoul(bytes.substr(pos, le - pos), nullptr, 16);
      if (bytes.size() < le + 2 + n + 2) return std::nullopt;
      r.body.append(bytes, le + 2, n);
      pos = le + 2 + n + 2;
      if (n == 0) break;
    }
    r.size = pos;
    return r;
  }
  if (r.headers.count("content-length")) {
    const std::size_t n = std::stoul(r.headers["content-length"]);
    if (bytes.size() < pos + n) return std::nullopt;
    r.body = bytes.substr(pos, n);
    r.size = pos + n;
    return r;
  }
  return std::nullopt;  // close-delimited: caller reads until close
}

/// Sends `request` on a fresh connection and reads one response.
inline std::optional<HttpResponse> http_exchange(std::uint16_t port, const std::string& request,
                                                 std::chrono::milliseconds timeout = 10s) {
  Client c(port);
  if (!c.connected() || !c.send(request)) return std::nullopt;
  const auto bytes =
      c.read_until([](const std::string& b) { return parse_response(b).has_value(); }, timeout);
  return parse_response(bytes);
}

inline std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

/// The whole responses at the start of `bytes`, in order.
inline std::vector<HttpResponse> parse_responses(const std::string& bytes) {
  std::vector<HttpResponse> got;
  std::string rest = bytes;
  while (auto r = parse_response(rest)) {
    got.push_back(*r);
    rest.erase(0, r->size);
  }
  return got;
}

/// Reads until `n` whole responses came from `c` (or it closes, or 10 s pass); returns them.
inline std::vector<HttpResponse> read_responses(Client& c, std::size_t n) {
  return parse_responses(
      c.read_until([&](const std::string& b) { return parse_responses(b).size() >= n; }));
}

/// Output of a shell command (stdout), and its exit status.
inline std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace stella::e2e
