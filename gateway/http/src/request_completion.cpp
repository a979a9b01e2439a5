#include "request_completion.hpp"

#include <cstdio>

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
  if (ex.times.auth_start != core::TimePoint{}) {
    Span auth;
    auth.trace_id = t.trace_id;
    auth.span_id = t.auth_span_id;
    auth.parent_span_id = t.span_id;
    auth.name = "gateway.auth.validate";
    auth.start_unix_nano = wall(ex.times.auth_start);
    auth.end_unix_nano = wall(ex.times.auth_end);
    spans.push_back(std::move(auth));
  }
  if (ex.times.upstream_sent != core::TimePoint{}) {
    Span send;
    send.trace_id = t.trace_id;
    send.span_id = t.send_span_id;
    send.parent_span_id = t.span_id;
    send.name = "gateway.transport.send";
    send.kind = Span::Kind::client;
    send.start_unix_nano = wall(ex.times.upstream_sent);
    send.end_unix_nano = wall(ex.times.end);
    send.attributes.push_back({"stella.service", std::string(ex.service())});
    send.attributes.push_back({"stella.instance", std::string(ex.instance_id())});
    if (ex.outcome != Outcome::ok) {
      send.status = Span::Status::error;
      send.status_message = std::string(outcome_label(ex.outcome));
    }
    spans.push_back(std::move(send));
  }
  spans.insert(spans.begin(), std::move(root));
  exporter.enqueue(std::move(spans));
}

}  // namespace

std::string request_log_json(const Exchange& ex) {
  std::string line;
  line.reserve(512);
  line += R"({"timestamp":")";
  line += core::rfc3339_of_unix_nano(ex.wall_start_unix_nano);
  line += '"';
  append_field(line, "level", ex.status >= 500 ? "error" : (ex.status >= 400 ? "warn" : "info"));
  append_field(line, "message", "Request routed");
  append_field(line, "correlationId", ex.proxy.correlation_id);
  append_field(line, "tenantId", ex.identity.tenant);
  append_field(line, "method", ex.method.substr(0, 32));
  append_field(line, "path", logged_path(ex));
  append_field(line, "service", ex.service());
  char number[64];
  std::snprintf(number, sizeof number, ",\"durationMs\":%.3f,\"status\":%u",
                seconds_between(ex.times.head, ex.times.end) * 1000.0, ex.status);
  line += number;
  append_field(line, "route", ex.route_template());
  append_field(line, "instance", ex.instance_id());
  append_field(line, "outcome", outcome_label(ex.outcome));
  std::snprintf(number, sizeof number, ",\"bytesIn\":%llu,\"bytesOut\":%llu",
                static_cast<unsigned long long>(ex.bytes_in),
                static_cast<unsigned long long>(ex.bytes_out));
  line += number;
  append_field(line, "traceId", to_hex(ex.trace.trace_id));
  line += "}\n";
  return line;
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
  // Management answers are labelled with their own (fixed) path, so a scrape never looks like
  // traffic of an unmatched route.
  const std::string_view path = ex.outcome == Outcome::management && ex.path_normalized
                                    ? std::string_view(ex.proxy.path.path())
                                    : ex.route_template();
  w.metrics.record_request(ex.service(), method, path, ex.status, ex.outcome, total);
  if (ex.times.upstream_sent != core::TimePoint{} && ex.times.upstream_head != core::TimePoint{})
    w.metrics.record_transport(ex.service(),
                               seconds_between(ex.times.upstream_sent, ex.times.upstream_head));
  if (ex.times.auth_start != core::TimePoint{})
    w.metrics.record_auth(seconds_between(ex.times.auth_start, ex.times.auth_end));

  if (shared.log_sink && shared.log_sink->request_lines()) {
    if (shared.log_sink->format() == config::LogFormat::json) {
      shared.log_sink->write_line(request_log_json(ex));
    } else {
      char line[160];
      std::snprintf(line, sizeof line, " %u %.3fms %s cid=", ex.status, total * 1000.0,
                    std::string(outcome_label(ex.outcome)).c_str());
      std::string text =
          core::rfc3339_of_unix_nano(ex.wall_start_unix_nano) + " " + ex.method.substr(0, 32) + " ";
      append_json_escaped(text, logged_path(ex));
      text += line;
      text += ex.proxy.correlation_id;
      if (!ex.service().empty()) {
        text += " service=";
        text += ex.service();
        text += " instance=";
        append_json_escaped(text, ex.instance_id());
      }
      text += '\n';
      shared.log_sink->write_line(text);
    }
  }
  if (shared.exporter && (ex.trace.flags & 0x01) != 0) export_spans(ex, *shared.exporter);
}

}  // namespace stella::gw::http
