// The demo service: the quickstart's service and the integration tests' workhorse.
//   GET|POST /api/v1/demo/echo       JSON echo of method, path, query, headers, identity, body,
//                                    and the instance that answered
//   GET /api/v1/demo/slow/{ms}       answers after `ms` milliseconds (cancellable)
//   GET /api/v1/demo/stream/{chunks} streams that many chunks (?interval_ms=M between them)
//   GET /api/v1/demo/bytes/{n}       streams n bytes (a-z repeated) in 64 KiB chunks
//   GET /api/v1/demo/status/{code}   answers with that status code
//   GET /api/v1/demo/items/special, /items/{id}, /files/{*path}   echo (routing precedence)
//   GET /api/v1/demo/secure          needs scope demo:read; answers with the identity received
//   GET /api/v1/demo/tenants/{tenant}/echo   echo; the gateway admits only the token's tenant
// All but the last two declare themselves anonymous (honoured when the gateway's
// auth.anonymousServices lists the service).
#pragma once

#include "stella/microservice/service.hpp"

namespace stella::microservice {

/// Adds the demo endpoints to `service` under `prefix` (a second demo under another prefix
/// registers routes of its own); `instance` is named in echo answers.
void add_demo_endpoints(Service& service, const std::string& instance,
                        const std::string& prefix = "/api/v1/demo");

}  // namespace stella::microservice
