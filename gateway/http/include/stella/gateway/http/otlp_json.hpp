// Spans as an OTLP/HTTP JSON request body (ExportTraceServiceRequest in the JSON Protobuf
// encoding, https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
//
// The encoding differs from the generic Protobuf JSON mapping in ways receivers check:
// traceId/spanId/parentSpanId are lowercase hex (not base64), enums are integers, 64-bit
// integers (times, intValue) are decimal strings, field names are lowerCamelCase.
//
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "stella/gateway/http/span.hpp"

namespace stella::gw::http {

/// One resourceSpans entry (resource attribute service.name = `service_name`) holding one
/// scopeSpans entry (scope name = `service_name`, version = `scope_version`, omitted when empty)
/// with all `spans` in order. parentSpanId is omitted for root spans, status.message when empty,
/// and non-finite double attributes are written as "NaN", "Infinity", "-Infinity" (the Protobuf
/// JSON mapping). Strings are copied from requests and may be any bytes: invalid UTF-8 is
/// replaced by U+FFFD rather than failing the whole batch. Never throws except bad_alloc.
std::string otlp_json(const std::vector<Span>& spans, std::string_view service_name,
                      std::string_view scope_version);

}  // namespace stella::gw::http
