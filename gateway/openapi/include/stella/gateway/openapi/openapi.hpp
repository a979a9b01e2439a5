// OpenAPI aggregation: one OpenAPI 3.1.0 document from the endpoints services announce in
// HELLO (DESIGN.md §8; docs/openapi.md is the reference for every rule below).
//
// The input is what the gateway routes: per service the endpoint descriptors of the routes it
// owns (with the gateway's effective timeout, claims and anonymity), each with the optional
// operation fragment the service sent. The output is the document and the list of fragments
// (or parts of them) left out, each with a reason. Nothing a service sends can break the
// document for another service: a fragment is parsed with size and depth limits, checked
// field by field, its `$ref`s must name the service's own components, and its components are
// renamed into the service's namespace (`<service>.<Name>`) with every `$ref` rewritten.
// A fragment that fails any check is left out and the operation derived from the descriptor
// takes its place.
//
// Pure functions; no I/O, no clock, no global state. Thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/frame.hpp"

namespace stella::gw::openapi {

/// Bounds on what one service may contribute (openapi.limits.*).
struct Limits {
  std::size_t max_fragment_bytes = 256 * 1024;  // one endpoint's fragment, as sent
  std::size_t max_depth = 64;                   // nesting of one fragment (containers)
  std::size_t max_components = 1000;            // components per service, all types together
};

/// One endpoint as the gateway routes it.
struct EndpointInput {
  core::EndpointDescriptor descriptor;  // as the service announced it (fragment included)
  std::string service_version;          // of the instance whose descriptor this is
  std::uint32_t timeout_ms = 0;         // effective: the descriptor's or routing.defaultTimeout
  bool anonymous = false;               // effective: the gateway takes it without a token
  std::vector<core::Claim> required_claims;  // effective: the union over the route's instances
};

struct ServiceInput {
  std::string name;
  std::string version;                      // the version the document shows
  std::vector<std::string> other_versions;  // also online (a rolling upgrade), sorted
  std::size_t instances = 0;
  std::vector<EndpointInput> endpoints;
};

struct DocumentOptions {
  std::string title = "Stella Ops API";
  std::string version = "1.0.0";
  std::string description;
  std::vector<std::string> servers;  // server URLs, in order
  /// Authentication as the gateway enforces it: off → every operation has `security: []`.
  bool auth_enabled = false;
  /// Plain Bearer tokens are accepted too (auth.requireSenderConstrained false).
  bool bearer_accepted = true;
  /// The Authority's issuer: declared as an openIdConnect scheme when not empty.
  std::string issuer;
  Limits limits;
};

/// Why a fragment, or a part of it, was left out. Names are metric label values.
enum class Reason : std::uint8_t {
  too_large,            // the fragment is over limits.max_fragment_bytes
  too_deep,             // nesting over limits.max_depth
  invalid_json,         // not JSON, invalid UTF-8, duplicate member names
  invalid_operation,    // not an Operation Object (unknown field, wrong type, ...)
  invalid_components,   // x-stella-components is not a Components Object
  too_many_components,  // over limits.max_components for the service
  component_conflict,   // the same component name with a different value in two fragments
  external_ref,         // a $ref to anything but #/components/... (URLs, files)
  dangling_ref,         // a $ref to a component the service did not define
  path_conflict,        // another route already has this OpenAPI path and method
  unsupported_method,   // a method an OpenAPI path item cannot hold (not get, put, post, ...)
};
inline constexpr std::size_t kReasonCount = 11;
std::string_view reason_name(Reason r) noexcept;

struct Warning {
  std::string service;
  std::string endpoint;  // "GET /api/x", or "" for the service's components
  Reason reason = Reason::invalid_json;
  std::string detail;
};

struct MergeResult {
  nlohmann::ordered_json document;
  /// What was left out, at most 32 per service (the document's x-stella-warnings says how
  /// many more); `rejected` counts every one, by reason.
  std::vector<Warning> warnings;
  std::array<std::uint64_t, kReasonCount> rejected{};
};

/// The merged document. Services are listed by name, paths by text, so equal inputs give
/// equal documents byte for byte.
MergeResult merge(const std::vector<ServiceInput>& services, const DocumentOptions& options);

/// The OpenAPI path for a template: `{*rest}` becomes `{rest}` (the parameter then carries
/// `x-stella-catch-all: true`). Empty when the template does not parse.
std::string openapi_path(std::string_view template_text);

/// `document` as YAML 1.2 that reads back as exactly the same JSON value: every string a YAML
/// 1.1 or 1.2 reader could take for another type ("200", "on", "1.0", "null", "~") is quoted,
/// keys included.
std::string to_yaml(const nlohmann::ordered_json& document);

/// Reads services from HELLO frames in the JSON form of `stella-gw frame decode --json`
/// (docs/protocol.md): one object, or an array of them. Every instance counts once; the
/// endpoints are taken as announced (no gateway policy applied: anonymous endpoints stay
/// anonymous when `honour_anonymous`). An endpoint's `openapi` may be given as a JSON object
/// instead of its text. Throws std::invalid_argument naming the frame and member.
std::vector<ServiceInput> services_from_hello_json(const nlohmann::ordered_json& hellos,
                                                   bool honour_anonymous);

}  // namespace stella::gw::openapi
