// The one translation unit that compiles Asio's SSL implementation
// (BOOST_ASIO_SEPARATE_COMPILATION). Kept apart from stella::asio so that only TLS users link
// OpenSSL.
#include <utility>

#include <boost/asio/ssl/impl/src.hpp>
