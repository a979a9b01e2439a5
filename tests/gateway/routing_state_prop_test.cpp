// Register/unregister sequences against a brute-force model of the route table: every accepted
// endpoint of a live instance is findable, removed instances are never returned, and conflicts
// are refused across services only.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "stella/gateway/routing_state.hpp"

namespace stella::gw {
namespace {

using core::RejectReason;

struct TemplateCase {
  std::string_view text;
  std::string_view shape;  // "" when malformed
  std::string_view probe;  // a request path that this shape wins in this universe
};

// Shapes collide on purpose (/a/{x} vs /a/{y}/, /a/b vs /a/b/). Probe segments "zz*" are no
// template's literal, so each probe's most specific match is its own shape.
constexpr std::array<TemplateCase, 9> kTemplates{{
    {"/a", "/a", "/a"},
    {"/a/{x}", "/a/{}", "/a/zz0"},
    {"/a/{y}/", "/a/{}", "/a/zz1"},
    {"/a/b", "/a/b", "/a/b"},
    {"/a/b/", "/a/b", "/a/b/"},
    {"/{*rest}", "/{*}", "/zz2/zz3"},
    {"/b/{x}/c", "/b/{}/c", "/b/zz4/c"},
    {"/a/{", "", ""},
    {"a", "", ""},
}};
constexpr std::array<std::string_view, 3> kMethods{"GET", "POST", "get"};
constexpr std::array<std::string_view, 3> kServices{"s0", "s1", "s2"};

struct Op {
  bool reg = true;
  std::uint64_t conn = 0;  // unregister: index into live connections (mod size), or unknown
  std::size_t service = 0;
  std::vector<std::pair<std::size_t, std::size_t>> endpoints;  // (method, template) indices
};

rc::Gen<Op> gen_op() {
  return rc::gen::apply(
      [](bool reg, std::uint64_t conn, std::size_t service,
         std::vector<std::pair<std::size_t, std::size_t>> eps) {
        return Op{reg, conn, service, std::move(eps)};
      },
      rc::gen::weightedElement<bool>({{3, true}, {2, false}}),
      rc::gen::inRange<std::uint64_t>(0, 16), rc::gen::inRange<std::size_t>(0, kServices.size()),
      rc::gen::resize(6, rc::gen::container<std::vector<std::pair<std::size_t, std::size_t>>>(
                             rc::gen::pair(rc::gen::inRange<std::size_t>(0, kMethods.size()),
                                           rc::gen::inRange<std::size_t>(0, kTemplates.size())))));
}

struct ModelRoute {
  std::string service;
  std::vector<std::uint64_t> conns;  // registration order
};
using Key = std::pair<std::string, std::string>;  // (method, shape)

struct Model {
  std::map<std::uint64_t, std::string> services;  // live conn -> service
  std::map<Key, ModelRoute> routes;
  std::map<std::uint64_t, std::vector<Key>> served;
  std::set<std::uint64_t> removed;

  // The expected verdict of each endpoint; applies the accepted ones.
  std::vector<std::optional<RejectReason>> apply_register(
      std::uint64_t conn, const std::string& service,
      const std::vector<std::pair<std::size_t, std::size_t>>& eps) {
    std::vector<std::optional<RejectReason>> out;
    std::set<Key> seen;
    std::vector<Key> accepted;
    for (const auto& [mi, ti] : eps) {
      const std::string method(kMethods[mi]);
      if (method == "get") {
        out.emplace_back(RejectReason::invalid_method);
        continue;
      }
      if (kTemplates[ti].shape.empty()) {
        out.emplace_back(RejectReason::malformed_template);
        continue;
      }
      const Key key{method, std::string(kTemplates[ti].shape)};
      if (!seen.insert(key).second) {
        out.emplace_back(RejectReason::duplicate);
        continue;
      }
      const auto it = routes.find(key);
      if (it != routes.end() && it->second.service != service) {
        out.emplace_back(RejectReason::conflict);
        continue;
      }
      out.emplace_back(std::nullopt);
      accepted.push_back(key);
    }
    services[conn] = service;
    for (const Key& k : accepted) {
      ModelRoute& r = routes[k];
      if (r.conns.empty()) r.service = service;
      r.conns.push_back(conn);
    }
    served[conn] = accepted;
    return out;
  }

  void apply_unregister(std::uint64_t conn) {
    for (const Key& k : served[conn]) {
      auto& r = routes[k];
      std::erase(r.conns, conn);
      if (r.conns.empty()) routes.erase(k);
    }
    served.erase(conn);
    services.erase(conn);
    removed.insert(conn);
  }
};

std::string_view probe_of(const std::string& shape) {
  for (const auto& t : kTemplates) {
    if (t.shape == shape) return t.probe;
  }
  return {};
}

void check_against_model(const RouteTable& table, const Model& model) {
  const auto snap = table.snapshot();
  RC_ASSERT(snap->instance_count() == model.services.size());
  RC_ASSERT(snap->route_count() == model.routes.size());

  // Every model route is findable by its probe, owned by the right service, with exactly the
  // live instances that serve it.
  LookupResult out;
  for (const auto& [key, mr] : model.routes) {
    const auto probe = core::normalize_path(probe_of(key.second)).value();
    snap->lookup(key.first, probe, out);
    RC_ASSERT(out.status == LookupStatus::found);
    RC_ASSERT(out.route->path_template.shape() == key.second);
    RC_ASSERT(out.route->method == key.first);
    RC_ASSERT(out.route->service == mr.service);
    std::multiset<std::uint64_t> got;
    for (const auto& c : out.route->candidates)
      got.insert(c.info->connection_id);
    RC_ASSERT(got == std::multiset<std::uint64_t>(mr.conns.begin(), mr.conns.end()));
  }

  // No route of the snapshot lists a removed instance, or one the model does not know.
  for (const auto& m : snap->methods()) {
    for (const Route& r : m->routes) {
      RC_ASSERT(!r.candidates.empty());
      RC_ASSERT(model.routes.contains({r.method, r.path_template.shape()}));
      for (const auto& c : r.candidates) {
        RC_ASSERT(model.services.contains(c.info->connection_id));
        RC_ASSERT(model.services.at(c.info->connection_id) == r.service);
      }
    }
  }
}

RC_GTEST_PROP(RouteTableProp, MatchesTheBruteForceModel, ()) {
  const auto ops = *rc::gen::resize(40, rc::gen::container<std::vector<Op>>(gen_op()));
  RouteTable table;
  Model model;
  std::uint64_t next_conn = 1;
  std::uint64_t accepted_total = 0;
  std::uint64_t conflicts_total = 0;
  for (const Op& op : ops) {
    if (op.reg) {
      const std::uint64_t conn = next_conn++;
      std::vector<core::EndpointDescriptor> eps;
      for (const auto& [mi, ti] : op.endpoints) {
        core::EndpointDescriptor d;
        d.method = std::string(kMethods[mi]);
        d.path = std::string(kTemplates[ti].text);
        eps.push_back(std::move(d));
      }
      const std::string service(kServices[op.service]);
      const auto r = table.register_instance(
          InstanceInfo{conn, service, "1", "i" + std::to_string(conn % 4), "eu1", {}}, eps);
      const auto expected = model.apply_register(conn, service, op.endpoints);
      RC_ASSERT(r.registered());
      RC_ASSERT(r.endpoints.size() == expected.size());
      for (std::size_t i = 0; i < expected.size(); ++i) {
        RC_ASSERT(r.endpoints[i].accepted == !expected[i].has_value());
        if (expected[i]) {
          RC_ASSERT(r.endpoints[i].reason == *expected[i]);
          RC_ASSERT(!r.endpoints[i].message.empty());
        }
        accepted_total += !expected[i].has_value();
        conflicts_total += expected[i] == RejectReason::conflict;
      }
    } else if (!model.services.empty() && op.conn < 12) {
      auto it = model.services.begin();
      std::advance(it, static_cast<long>(op.conn % model.services.size()));
      const std::uint64_t conn = it->first;
      RC_ASSERT(table.unregister_instance(conn));
      model.apply_unregister(conn);
    } else {
      // An unknown or already removed connection: nothing changes.
      const auto version = table.snapshot()->version();
      const std::uint64_t conn = model.removed.empty() ? 1'000'000 : *model.removed.begin();
      RC_ASSERT(!table.unregister_instance(conn));
      RC_ASSERT(table.snapshot()->version() == version);
    }
    check_against_model(table, model);
  }
  const auto c = table.counters();
  RC_ASSERT(c.endpoints_accepted_total == accepted_total);
  RC_ASSERT(c.conflicts_total == conflicts_total);
  RC_ASSERT(c.instances_registered_total == next_conn - 1);
}

}  // namespace
}  // namespace stella::gw
