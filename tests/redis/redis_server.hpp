// A real redis-server for tests: started on a free loopback port in its own temporary directory
// (no persistence: --save "" --appendonly no), ready once it answers PING, killed (SIGKILL) and
// its directory removed by the destructor. Header-only and self-contained (POSIX and the C++
// standard library), so that any test suite can include it.
//
//   stella::test::RedisServer redis;                        // throws if it does not come up
//   settings.port = redis.port();
//   redis.kill();  redis.start();                           // crash and restart, same port
//   redis.pause(); redis.resume();                          // SIGSTOP / SIGCONT
//
// The server is started with PR_SET_PDEATHSIG, so a test binary that crashes does not leave it
// running. Linux delivers that signal when the *thread* that started the server exits: create
// (and start()) it from a thread that outlives it, such as the test's main thread.
//
// Not thread-safe; one object per server.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace stella::test {

class RedisServer {
 public:
  struct Options {
    std::uint16_t port = 0;               // 0: a free loopback port, chosen at the first start
    std::string password;                 // --requirepass when non-empty
    std::vector<std::string> extra_args;  // more "--name value" pairs for redis-server
    std::chrono::milliseconds start_timeout{20000};  // until it answers PING
    std::string binary = "/usr/bin/redis-server";
  };

  RedisServer() : RedisServer(Options{}) {}
  /// Starts the server. Throws std::runtime_error (with the server's log) when it does not
  /// answer PING within start_timeout.
  explicit RedisServer(Options options) : options_(std::move(options)) {
    std::string pattern = (std::filesystem::temp_directory_path() / "stella-redis-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("RedisServer: mkdtemp failed for " + pattern);
    dir_ = pattern;
    port_ = options_.port;
    try {
      start();
    } catch (...) {
      cleanup();
      throw;
    }
  }
  ~RedisServer() { cleanup(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }
  const std::filesystem::path& dir() const noexcept { return dir_; }
  /// "redis://127.0.0.1:<port>", without the password.
  std::string address() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  /// What the server wrote to stdout and stderr.
  std::string log() const {
    std::ifstream in(dir_ / "redis.log", std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  /// (Re)starts the server on port() (a fresh free port the first time when Options::port is
  /// 0). Throws like the constructor. A no-op while running.
  void start() {
    if (running()) return;
    // A port picked here can be taken by someone else before the server binds it; then the
    // server exits at once and another port is tried. A port the caller or a previous start
    // fixed is kept.
    const bool may_pick = port_ == 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (may_pick) port_ = free_port();
      spawn();
      bool exited = false;
      if (wait_until_ready(exited)) return;
      kill();
      if (!exited || !may_pick) break;
    }
    throw std::runtime_error("RedisServer: redis-server on port " + std::to_string(port_) +
                             " did not answer PING; its log:\n" + log());
  }

  /// SIGKILL (no shutdown, no goodbye to clients) and reap. Idempotent.
  void kill() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = 0;
  }
  /// SIGSTOP: connections stay open and the kernel still accepts new ones, but nothing answers.
  void pause() noexcept {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  /// SIGCONT after pause().
  void resume() noexcept {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  /// A loopback TCP port that was free a moment ago (bind to port 0, read it, close).
  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("RedisServer: socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("RedisServer: no free loopback port");
    return ntohs(a.sin_port);
  }

 private:
  void cleanup() noexcept {
    kill();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  void spawn() {
    std::vector<std::string> args = {
        options_.binary, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save",     "",
        "--appendonly",  "no",     "--daemonize",         "no",     "--dir",     dir_.string()};
    if (!options_.password.empty()) {
      args.push_back("--requirepass");
      args.push_back(options_.password);
    }
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    // Everything the child needs is prepared before fork: after it, only async-signal-safe
    // calls (the test binary has threads).
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log_path = (dir_ / "redis.log").string();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("RedisServer: fork failed");
    if (pid == 0) {
      if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
      // The test's sockets must not live on in the server: a client's close() would not
      // close a connection the server process still holds a copy of.
      if (::close_range(3, ~0U, 0) != 0)
        for (int fd = 3; fd < 65536; ++fd)
          ::close(fd);
      const int in = ::open("/dev/null", O_RDONLY);
      const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0)
        ::_exit(127);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
  }

  // Polls until the server answers PING (NOAUTH counts: it is up) or exits.
  bool wait_until_ready(bool& exited) {
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        exited = true;
        return false;
      }
      if (answers_ping()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  bool answers_ping() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    char reply[64];
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 500) == 1) {
        const ssize_t n = ::recv(fd, reply, sizeof reply, 0);
        ok = n > 0 && (reply[0] == '+' || reply[0] == '-');
      }
    }
    ::close(fd);
    return ok;
  }

  Options options_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace stella::test
