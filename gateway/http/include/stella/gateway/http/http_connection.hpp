// One client connection: HTTP/1.1 over TCP or TLS, keep-alive, pipelined requests answered in
// order, the pipeline's stages, and the transport stage (forwarding through UpstreamHub).
// docs/http.md describes limits, timeouts and error answers.
//
// A connection lives on its worker's event loop from accept to close; nothing of it is touched
// from another thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "stella/gateway/http/worker_context.hpp"

namespace stella::gw::http {

/// Serves a plain-TCP client connection until it closes.
void serve_http_connection(WorkerContext& worker, boost::asio::ip::tcp::socket socket);

/// Performs the TLS handshake (bounded by http.headerTimeout), then serves the connection.
void serve_https_connection(WorkerContext& worker, boost::asio::ip::tcp::socket socket,
                            std::shared_ptr<boost::asio::ssl::context> context);

}  // namespace stella::gw::http
