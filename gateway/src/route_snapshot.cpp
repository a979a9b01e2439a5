#include "stella/gateway/route_snapshot.hpp"

#include <algorithm>
#include <utility>

namespace stella::gw {

RouteSnapshot::RouteSnapshot(std::uint64_t version,
                             std::vector<std::shared_ptr<const MethodRoutes>> methods,
                             std::size_t instance_count)
    : version_(version), methods_(std::move(methods)), instance_count_(instance_count) {
  for (const auto& m : methods_)
    route_count_ += m->routes.size();
}

const MethodRoutes* RouteSnapshot::routes_of(std::string_view method) const noexcept {
  const auto it = std::lower_bound(methods_.begin(), methods_.end(), method,
                                   [](const std::shared_ptr<const MethodRoutes>& m,
                                      std::string_view k) { return m->method < k; });
  return (it != methods_.end() && (*it)->method == method) ? it->get() : nullptr;
}

void RouteSnapshot::lookup(std::string_view method, const core::NormalizedPath& path,
                           LookupResult& out) const {
  out.status = LookupStatus::not_found;
  out.route = nullptr;
  out.allowed_methods.clear();

  const MethodRoutes* mine = routes_of(method);
  if (mine != nullptr && mine->matcher.match(path, out.match)) {
    out.status = LookupStatus::found;
    out.route = &mine->routes[out.match.value];
    return;
  }
  // The miss path: does the path exist under another method? methods_ is sorted, so
  // allowed_methods comes out sorted.
  for (const auto& m : methods_) {
    if (m.get() == mine) continue;
    if (m->matcher.match(path, out.match)) out.allowed_methods.push_back(m->method);
  }
  out.match.params.clear();
  out.match.route = nullptr;
  out.match.value = 0;
  if (!out.allowed_methods.empty()) out.status = LookupStatus::method_not_allowed;
}

LookupResult RouteSnapshot::lookup(std::string_view method,
                                   const core::NormalizedPath& path) const {
  LookupResult r;
  lookup(method, path, r);
  return r;
}

}  // namespace stella::gw
