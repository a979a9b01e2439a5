#include "stella/transport/tcp_socket.hpp"

namespace stella::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::error_code open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return ec;
}

void tune_socket(tcp::socket& socket, int receive_buffer, int send_buffer) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  if (receive_buffer > 0) {
    socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer), ignored);
  }
  if (send_buffer > 0) socket.set_option(asio::socket_base::send_buffer_size(send_buffer), ignored);
}

}  // namespace stella::transport
