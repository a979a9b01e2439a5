// The demo service: the quickstart's service and the integration tests' workhorse.
//   GET|POST /api/v1/demo/echo       JSON echo of method, path, query, headers, identity, body
//   GET /api/v1/demo/slow/{ms}       answers after `ms` milliseconds (cancellable)
//   GET /api/v1/demo/stream/{chunks} streams that many chunks
//   GET /api/v1/demo/status/{code}   answers with that status code
//   GET /api/v1/demo/items/special, /items/{id}, /files/{*path}   echo (routing precedence)
#pragma once

#include "stella/microservice/service.hpp"

namespace stella::microservice {

/// Adds the demo endpoints to `service`.
void add_demo_endpoints(Service& service);

}  // namespace stella::microservice
