// on_complete: the one place where a finished request is accounted for — its metrics, its
// request log line, its spans. The exchange loop calls it exactly once for every request whose
// head was read (answered, refused, timed out, abandoned by the client, cut by a lost instance).
#pragma once

#include "stella/gateway/http/exchange.hpp"
#include "stella/gateway/http/span.hpp"
#include "stella/gateway/http/worker_context.hpp"

namespace stella::gw::http {

void on_complete(Exchange& ex, WorkerContext& w);

/// Writes the request lines this worker gathered during the current loop turn (posted by
/// on_complete; also called at shutdown).
void flush_request_log(WorkerContext& w);

}  // namespace stella::gw::http
