// Serving an accepted client connection: HTTP/1.1 over TCP or TLS, keep-alive, pipelined
// requests answered in order. The pieces are private: ClientConnection (socket, buffer,
// deadlines), ExchangeLoop (HTTP semantics, stages, on_complete), UpstreamForwarder (services).
// docs/http.md describes limits, timeouts and error answers.
//
// A connection lives on its worker's event loop from accept to close; nothing of it is touched
// from another thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "stella/gateway/http/worker_context.hpp"

namespace stella::gw::http {

/// Serves a plain-TCP client connection until it closes. `peer`: the address accept() gave.
/// `management_only`: accepted on the dedicated metrics listener (only /metrics and /health/*
/// are answered).
void serve_http_connection(WorkerContext& worker, boost::asio::ip::tcp::socket socket,
                           const boost::asio::ip::tcp::endpoint& peer,
                           bool management_only = false);

/// The address as text, as Asio's to_string() writes it ("10.1.2.3", "::1"), for
/// X-Forwarded-For and the logs; an IPv4 address without inet_ntop's sprintf.
std::string address_text(const boost::asio::ip::address& address);

/// Performs the TLS handshake (bounded by http.headerTimeout), then serves the connection.
void serve_https_connection(WorkerContext& worker, boost::asio::ip::tcp::socket socket,
                            const boost::asio::ip::tcp::endpoint& peer,
                            std::shared_ptr<boost::asio::ssl::context> context);

}  // namespace stella::gw::http
