#include "request_completion.hpp"

#include <boost/asio/post.hpp>
#include <charconv>
#include <cstdio>
#include <type_traits>

#include "stella/gateway/http/otlp_exporter.hpp"

namespace stella::gw::http {
namespace {

double seconds_between(core::TimePoint a, core::TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

// A request's path in logs: bounded, so a line stays below PIPE_BUF (one atomic write).
constexpr std::size_t kLoggedPathMax = 1024;

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":\"";
  append_json_escaped(out, value);
  out += '"';
}

template <class T>
void append_number(std::string& out, T v) {
  char buf[32];
  std::to_chars_result r;
  if constexpr (std::is_floating_point_v<T>)
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 3);
  else
    r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

template <std::size_t N>
void append_hex(std::string& out, const std::array<std::uint8_t, N>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
}

// RFC 3339 with milliseconds. The date and time of day change once a second: each worker
// keeps the last second's text, so a request line formats only its milliseconds.
void append_rfc3339(std::string& out, std::uint64_t unix_nano) {
  thread_local std::uint64_t cached_second = ~std::uint64_t{0};
  thread_local std::string cached;  // "2026-11-30T05:20:00"
  const std::uint64_t second = unix_nano / 1'000'000'000u;
  if (second != cached_second) {
    cached = core::rfc3339_of_unix_nano(second * 1'000'000'000u).substr(0, 19);
    cached_second = second;
  }
  out += cached;
  const auto ms = static_cast<unsigned>((unix_nano / 1'000'000u) % 1000u);
  out += '.';
  out += static_cast<char>('0' + ms / 100);
  out += static_cast<char>('0' + ms / 10 % 10);
  out += static_cast<char>('0' + ms % 10);
  out += 'Z';
}

std::string_view logged_path(const Exchange& ex) {
  if (!ex.path_normalized) return {};
  const std::string_view p = ex.proxy.path.path();
  return p.substr(0, kLoggedPathMax);
}

std::uint64_t nanos_since(core::TimePoint from, core::TimePoint to) {
  return to > from ? static_cast<std::uint64_t>(
                         std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count())
                   : 0;
}

void export_spans(const Exchange& ex, OtlpExporter& exporter) {
  const auto& t = ex.trace;
  const auto wall = [&](core::TimePoint at) {
    return ex.wall_start_unix_nano + nanos_since(ex.times.head, at);
  };
  std::vector<Span> spans;
  spans.reserve(3);
  Span root;
  root.trace_id = t.trace_id;
  root.span_id = t.span_id;
  root.parent_span_id = t.parent_id;
  root.name = "gateway.route";
  root.kind = Span::Kind::server;
  root.start_unix_nano = ex.wall_start_unix_nano;
  root.end_unix_nano = wall(ex.times.end);
  const bool failed = ex.status >= 500 || ex.outcome == Outcome::client_closed;
  root.status = failed ? Span::Status::error : Span::Status::unset;
  if (failed) root.status_message = std::string(outcome_label(ex.outcome));
  root.attributes.push_back({"http.request.method", ex.method});
  root.attributes.push_back({"http.response.status_code", static_cast<std::int64_t>(ex.status)});
  root.attributes.push_back({"url.path", std::string(logged_path(ex))});
  root.attributes.push_back({"http.route", std::string(ex.route_template())});
  root.attributes.push_back({"stella.outcome", std::string(outcome_label(ex.outcome))});
  root.attributes.push_back({"stella.correlation_id", ex.proxy.correlation_id});
  if (!ex.service().empty())
    root.attributes.push_back({"stella.service", std::string(ex.service())});
  // A child of gateway.route covering [from, to).
  const auto child = [&](const char* name, const std::array<std::uint8_t, 8>& id,
                         core::TimePoint from, core::TimePoint to) -> Span& {
    Span& c = spans.emplace_back();
    c.trace_id = t.trace_id;
    c.span_id = id;
    c.parent_span_id = t.span_id;
    c.name = name;
    c.start_unix_nano = wall(from);
    c.end_unix_nano = wall(to);
    return c;
  };
  // The authentication stage sets auth_start/auth_end; auth_span_id comes with the trace.
  if (ex.times.auth_start != core::TimePoint{})
    child("gateway.auth.validate", t.auth_span_id, ex.times.auth_start, ex.times.auth_end);
  if (ex.times.upstream_sent != core::TimePoint{}) {
    Span& send =
        child("gateway.transport.send", t.send_span_id, ex.times.upstream_sent, ex.times.end);
    send.kind = Span::Kind::client;
    send.attributes.push_back({"stella.service", std::string(ex.service())});
    send.attributes.push_back({"stella.instance", std::string(ex.instance_id())});
    if (ex.outcome != Outcome::ok) {
      send.status = Span::Status::error;
      send.status_message = std::string(outcome_label(ex.outcome));
    }
  }
  spans.insert(spans.begin(), std::move(root));
  exporter.enqueue(std::move(spans));
}

}  // namespace

void flush_request_log(WorkerContext& w) {
  w.log_flush_posted = false;
  w.shared.log_sink->write_line(w.log_batch);
  w.log_batch.clear();
  // A burst can leave a large buffer behind: give it back when it is far above the usual size.
  if (w.log_batch.capacity() > 1 << 20) std::string().swap(w.log_batch);
}

std::string request_log_json(const Exchange& ex) {
  std::string line;
  append_request_log_json(line, ex);
  return line;
}

void append_request_log_json(std::string& line, const Exchange& ex) {
  line += R"({"timestamp":")";
  append_rfc3339(line, ex.wall_start_unix_nano);
  line += '"';
  append_field(line, "level", ex.status >= 500 ? "error" : (ex.status >= 400 ? "warn" : "info"));
  append_field(line, "message", "Request routed");
  append_field(line, "correlationId", ex.proxy.correlation_id);
  append_field(line, "tenantId", ex.identity.tenant);
  if (!ex.identity.subject.empty()) append_field(line, "subject", ex.identity.subject);
  append_field(line, "method", std::string_view(ex.method).substr(0, 32));
  append_field(line, "path", logged_path(ex));
  append_field(line, "service", ex.service());
  line += R"(,"durationMs":)";
  append_number(line, seconds_between(ex.times.head, ex.times.end) * 1000.0);
  line += R"(,"status":)";
  append_number(line, ex.status);
  append_field(line, "route", ex.route_template());
  append_field(line, "instance", ex.instance_id());
  append_field(line, "outcome", outcome_label(ex.outcome));
  // Why authentication refused it (a fixed name; never the token).
  if (ex.identity.failure)
    append_field(line, "authFailure", auth::auth_failure_name(*ex.identity.failure));
  line += R"(,"bytesIn":)";
  append_number(line, ex.bytes_in);
  line += R"(,"bytesOut":)";
  append_number(line, ex.bytes_out);
  line += R"(,"traceId":")";
  append_hex(line, ex.trace.trace_id);
  line += "\"}\n";
}

void on_complete(Exchange& ex, WorkerContext& w) {
  if (ex.completed) return;  // defensive: the loop calls once; a second call must not count twice
  ex.completed = true;
  auto& shared = w.shared;
  const double total = seconds_between(ex.times.head, ex.times.end);
  // Unmatched requests keep the client's method only when it is a standard one (metrics.cpp).
  const std::string_view method =
      ex.proxy.lookup.status == LookupStatus::found && ex.proxy.lookup.route
          ? std::string_view(ex.proxy.lookup.route->method)
          : std::string_view(ex.method);
  if (ex.outcome == Outcome::management) {
    // Probes and scrapes: counted by outcome only, no request line, no span.
    w.metrics.record_outcome(ex.outcome);
    return;
  }
  if (shared.config->telemetry.metrics.enabled) {
    w.metrics.record_request(ex.service(), method, ex.route_template(), ex.status, ex.outcome,
                             total);
    // The service's time to first byte: from the end of the request body (a streamed upload's
    // time is the client's and the credit's, not the service's answer time).
    const core::TimePoint asked =
        ex.times.body_sent != core::TimePoint{} ? ex.times.body_sent : ex.times.upstream_sent;
    if (asked != core::TimePoint{} && ex.times.upstream_head != core::TimePoint{})
      w.metrics.record_transport(ex.service(), seconds_between(asked, ex.times.upstream_head));
    if (ex.times.auth_start != core::TimePoint{})
      w.metrics.record_auth(seconds_between(ex.times.auth_start, ex.times.auth_end));
  }

  if (shared.log_sink && shared.log_sink->request_lines()) {
    std::string& out = w.log_batch;
    if (shared.log_sink->format() == config::LogFormat::json) {
      append_request_log_json(out, ex);
    } else {
      append_rfc3339(out, ex.wall_start_unix_nano);
      out += ' ';
      out += std::string_view(ex.method).substr(0, 32);
      out += ' ';
      append_json_escaped(out, logged_path(ex));
      out += ' ';
      append_number(out, ex.status);
      out += ' ';
      append_number(out, total * 1000.0);
      out += "ms ";
      out += outcome_label(ex.outcome);
      out += " cid=";
      out += ex.proxy.correlation_id;
      if (!ex.service().empty()) {
        out += " service=";
        append_json_escaped(out, ex.service());
        out += " instance=";
        append_json_escaped(out, ex.instance_id());
      }
      out += '\n';
    }
    // Lines finished in this turn of the worker's loop go out together at its end: one write
    // for all of them, never held longer than the turn.
    if (!w.log_flush_posted) {
      w.log_flush_posted = true;
      boost::asio::post(w.io, [&w] { flush_request_log(w); });
    }
  }
  if (shared.exporter && (ex.trace.flags & 0x01) != 0) export_spans(ex, *shared.exporter);
}

}  // namespace stella::gw::http
