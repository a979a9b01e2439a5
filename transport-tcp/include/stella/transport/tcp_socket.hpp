// Small TCP helpers shared by the plain and TLS listeners.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <system_error>

namespace stella::transport {

/// Opens, binds (SO_REUSEADDR) and listens. Returns the error instead of throwing.
std::error_code open_acceptor(boost::asio::ip::tcp::acceptor& acceptor,
                              const boost::asio::ip::tcp::endpoint& endpoint);

/// TCP_NODELAY, SO_KEEPALIVE (a backstop under the heartbeats) and the socket buffer sizes
/// (0 keeps the OS default). Failures are ignored: the connection works without them.
void tune_socket(boost::asio::ip::tcp::socket& socket, int receive_buffer, int send_buffer);

}  // namespace stella::transport
