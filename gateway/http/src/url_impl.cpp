// Boost.URL compiled once for the whole project, like Beast in beast_impl.cpp: the library
// headers are then declarations only, and no target links the separately built libboost_url.
#include <boost/url/src.hpp>
