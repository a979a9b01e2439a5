#include "stella/gateway/http/otlp_exporter.hpp"

#include <utility>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <iterator>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>

#include "stella/gateway/http/otlp_json.hpp"
#include "stella/gateway/http/outbound_http_client.hpp"
#include "stella/gateway/http/request_head.hpp"  // iequals

namespace stella::gw::http {

namespace asio = boost::asio;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// At most one failure line per this period: a collector that is down would otherwise log once
// per interval per worker, forever.
constexpr core::Duration kReportEvery = std::chrono::seconds(10);

// The collector answers with a small ExportTraceServiceResponse; anything larger is not one.
constexpr std::size_t kMaxResponseBody = 64 * 1024;

// A zero interval would turn the loop into a busy wait while the queue is empty.
constexpr core::Duration kMinInterval = std::chrono::milliseconds(1);

}  // namespace

struct OtlpExporter::State {
  State(const asio::any_io_executor& ex, OtlpExporterSettings s,
        std::function<void(const std::string&)> log_fn)
      : strand_(asio::make_strand(ex)),
        settings_(std::move(s)),
        max_batch_(std::max<std::size_t>(1, settings_.max_batch_spans)),
        interval_(std::max(kMinInterval, settings_.export_interval)),
        log_(std::move(log_fn)),
        wake_(strand_) {}

  asio::strand<asio::any_io_executor> strand_;
  const OtlpExporterSettings settings_;
  const std::size_t max_batch_;
  const core::Duration interval_;
  const std::function<void(const std::string&)> log_;

  std::mutex mutex_;  // guards the three below; held only to move spans in or out
  std::vector<Span> queue_;
  bool started_ = false;
  bool closed_ = false;  // stop() was called: enqueue drops

  std::atomic<bool> finished_{false};
  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> failed_{0};

  // Strand only.
  asio::steady_timer wake_;  // the interval; cancelled early by a full batch or stop()
  bool stop_requested_ = false;
  core::TimePoint stop_deadline_{};
  core::SteadyClock clock_;  // the stop deadline and the report rate limit
  bool reported_ = false;
  core::TimePoint last_report_{};
  std::uint64_t suppressed_reports_ = 0;

  std::size_t queued() {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

  std::vector<Span> take_batch() {
    std::lock_guard lock(mutex_);
    std::vector<Span> batch;
    if (queue_.size() <= max_batch_) {
      batch.swap(queue_);
    } else {
      batch.assign(
          std::make_move_iterator(queue_.begin()),
          std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(max_batch_)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(max_batch_));
    }
    return batch;
  }

  void drop(std::uint64_t n) noexcept { dropped_.fetch_add(n, std::memory_order_relaxed); }

  void report(std::string what) {
    const auto now = clock_.now();
    if (reported_ && now - last_report_ < kReportEvery) {
      ++suppressed_reports_;
      return;
    }
    if (suppressed_reports_ > 0)
      what +=
          " (" + std::to_string(suppressed_reports_) + " more not logged since the last report)";
    reported_ = true;
    last_report_ = now;
    suppressed_reports_ = 0;
    if (log_) log_("otlp export: " + what);
  }

  // Spans the collector refused in a 2xx answer (OTLP partial success); 0 when the body does
  // not say, since a 2xx without a partialSuccess means everything was accepted.
  static std::uint64_t rejected_spans(const std::string& body, std::string& message) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object()) return 0;
    const auto ps = j.find("partialSuccess");
    if (ps == j.end() || !ps->is_object()) return 0;
    if (const auto m = ps->find("errorMessage"); m != ps->end() && m->is_string())
      message = m->get<std::string>();
    const auto r = ps->find("rejectedSpans");
    if (r == ps->end()) return 0;
    // int64 is a decimal string in OTLP JSON; some receivers send a number anyway.
    if (r->is_number_unsigned()) return r->get<std::uint64_t>();
    if (r->is_string()) {
      const auto& s = r->get_ref<const std::string&>();
      std::uint64_t v = 0;
      for (char c : s) {
        if (c < '0' || c > '9' || v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10)
          return 0;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
      return v;
    }
    return 0;
  }

  asio::awaitable<void> async_export(std::vector<Span> batch, core::Duration timeout) {
    const std::uint64_t n = batch.size();
    OutboundRequest req;
    req.method = "POST";
    req.url = settings_.endpoint;
    req.headers.emplace_back("Content-Type", "application/json");
    for (const auto& h : settings_.headers)
      if (!iequals(h.first, "content-type")) req.headers.push_back(h);
    req.body = otlp_json(batch, settings_.service_name, settings_.scope_version);
    batch = {};  // the body is all that is needed from here on
    req.timeout = timeout;
    req.max_response_body = kMaxResponseBody;
    // Named, not a temporary in the co_await expression: GCC 12 destroys such a temporary
    // with the wrong storage (an aggregate's string freed from inside the coroutine frame).
    const OutboundTlsOptions tls{settings_.ca_file};
    auto res = co_await async_http_request(strand_, std::move(req), tls);
    // The report and the dropped count go before failed/exported, which are released last:
    // whoever acquires one of those (a test, a metrics scrape) sees the batch's whole outcome,
    // its log line included.
    if (!res || res->status < 200 || res->status > 299) {
      report("POST " + settings_.endpoint + " failed (" + std::to_string(n) + " spans dropped): " +
             (res ? "status " + std::to_string(res->status) : res.error().message()));
      drop(n);
      failed_.fetch_add(1, std::memory_order_release);
      co_return;
    }
    std::string message;
    const std::uint64_t rejected = std::min(n, rejected_spans(res->body, message));
    if (rejected > 0) {
      report("the collector rejected " + std::to_string(rejected) + " of " + std::to_string(n) +
             " spans: " + message);
      drop(rejected);
    }
    exported_.fetch_add(n - rejected, std::memory_order_release);
  }

  // Sends what is queued, batch by batch, until the queue is empty or stop() interrupts.
  asio::awaitable<void> async_drain() {
    while (!stop_requested_) {
      auto batch = take_batch();
      if (batch.empty()) co_return;
      co_await async_export(std::move(batch), settings_.export_timeout);
    }
  }

  // After stop(): what is queued gets until stop_deadline_ (an export in flight when stop()
  // came ends by then too, its own timeout being export_timeout), the rest is dropped.
  asio::awaitable<void> async_final_flush() {
    for (;;) {
      const auto left = stop_deadline_ - clock_.now();
      if (left <= core::Duration::zero()) break;
      auto batch = take_batch();
      if (batch.empty()) break;
      co_await async_export(std::move(batch), left);
    }
    std::lock_guard lock(mutex_);
    drop(queue_.size());
    queue_.clear();
  }

  static asio::awaitable<void> async_run(std::shared_ptr<State> self) {
    for (;;) {
      // A full batch goes out at once. Checking here, on the strand, also covers a wake that
      // enqueue posted while the loop was busy sending (its cancel found no wait to cancel).
      if (!self->stop_requested_ && self->queued() < self->max_batch_) {
        self->wake_.expires_after(self->interval_);
        co_await self->wake_.async_wait(kTuple);  // operation_aborted: woken early
      }
      if (self->stop_requested_) break;
      co_await self->async_drain();
    }
    co_await self->async_final_flush();
  }
};

OtlpExporter::OtlpExporter(asio::any_io_executor ex, OtlpExporterSettings s,
                           std::function<void(const std::string&)> log)
    : state_(std::make_shared<State>(ex, std::move(s), std::move(log))) {}

OtlpExporter::~OtlpExporter() {
  stop();
}

void OtlpExporter::enqueue(std::vector<Span>&& spans) noexcept {
  if (spans.empty()) return;
  State& st = *state_;
  std::size_t taken = 0;
  bool wake = false;
  try {
    std::lock_guard lock(st.mutex_);
    if (!st.closed_) {
      const std::size_t max_queue = st.settings_.max_queue_spans;
      const std::size_t room = max_queue > st.queue_.size() ? max_queue - st.queue_.size() : 0;
      const std::size_t n = std::min(room, spans.size());
      // Reserve first so that the moves below cannot fail half-way (Span moves are noexcept).
      st.queue_.reserve(st.queue_.size() + n);
      const bool below = st.queue_.size() < st.max_batch_;
      st.queue_.insert(st.queue_.end(), std::make_move_iterator(spans.begin()),
                       std::make_move_iterator(spans.begin() + static_cast<std::ptrdiff_t>(n)));
      taken = n;
      wake = st.started_ && below && st.queue_.size() >= st.max_batch_;
    }
  } catch (...) {
    // bad_alloc or a failing mutex: tracing gives way, the request goes on.
  }
  if (taken < spans.size()) st.drop(spans.size() - taken);
  if (!wake) return;
  try {
    // The timer belongs to the loop's strand; this may be any thread.
    asio::post(st.strand_, [s = state_] { s->wake_.cancel(); });
  } catch (...) {
    // The spans are queued; the interval still sends them.
  }
}

void OtlpExporter::start() {
  {
    std::lock_guard lock(state_->mutex_);
    if (state_->started_ || state_->closed_) return;
    state_->started_ = true;
  }
  auto st = state_;
  asio::co_spawn(st->strand_, State::async_run(st), [st](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        if (st->log_) st->log_(std::string("otlp export loop failed: ") + ex.what());
      } catch (...) {
        if (st->log_) st->log_("otlp export loop failed");
      }
      std::lock_guard lock(st->mutex_);
      st->drop(st->queue_.size());
      st->queue_.clear();
    }
    st->finished_.store(true, std::memory_order_release);
  });
}

void OtlpExporter::stop() {
  bool running = false;
  {
    std::lock_guard lock(state_->mutex_);
    if (state_->closed_) return;
    state_->closed_ = true;
    running = state_->started_;
    if (!running) {
      state_->drop(state_->queue_.size());
      state_->queue_.clear();
    }
  }
  if (!running) {
    state_->finished_.store(true, std::memory_order_release);
    return;
  }
  asio::post(state_->strand_, [s = state_] {
    s->stop_requested_ = true;
    s->stop_deadline_ = s->clock_.now() + s->settings_.export_timeout;
    s->wake_.cancel();
  });
}

bool OtlpExporter::finished() const noexcept {
  return state_->finished_.load(std::memory_order_acquire);
}

std::uint64_t OtlpExporter::exported_spans() const noexcept {
  return state_->exported_.load(std::memory_order_acquire);
}
std::uint64_t OtlpExporter::dropped_spans() const noexcept {
  return state_->dropped_.load(std::memory_order_relaxed);
}
std::uint64_t OtlpExporter::failed_exports() const noexcept {
  return state_->failed_.load(std::memory_order_acquire);
}

}  // namespace stella::gw::http
