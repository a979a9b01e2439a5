#include "stella/microservice/demo_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

namespace stella::microservice {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::optional<unsigned> number(std::optional<std::string_view> text, unsigned max) {
  if (!text) return std::nullopt;
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{} || end != text->data() + text->size() || v > max) return std::nullopt;
  return v;
}

core::Response text(std::uint16_t status, std::string body) {
  return core::Response{status, {{"content-type", "text/plain; charset=utf-8"}}, std::move(body)};
}

asio::awaitable<std::optional<core::Response>> echo(RequestContext& ctx) {
  const core::Request& r = ctx.request();
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& h : r.headers)
    headers.push_back({h.name, h.value});
  nlohmann::json j{{"method", r.method}, {"path", r.path},
                   {"query", r.query},   {"route", r.route},
                   {"headers", headers}, {"correlationId", r.correlation_id},
                   {"tenant", r.tenant}, {"subject", r.subject},
                   {"scopes", r.scopes}, {"traceparent", r.traceparent},
                   {"body", r.body}};
  co_return core::Response{200,
                           {{"content-type", "application/json"}},
                           j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

asio::awaitable<std::optional<core::Response>> slow(RequestContext& ctx) {
  const auto ms = number(ctx.param("ms"), 3'600'000);
  if (!ms) co_return text(400, "ms must be an integer in 0..3600000\n");
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::milliseconds(*ms));
  auto [ec] = co_await timer.async_wait(kTuple);
  if (ec) co_return std::nullopt;  // cancelled by the gateway: nobody wants the answer
  co_return text(200, "slept " + std::to_string(*ms) + " ms\n");
}

asio::awaitable<std::optional<core::Response>> stream(RequestContext& ctx) {
  const auto chunks = number(ctx.param("chunks"), 100'000);
  if (!chunks) co_return text(400, "chunks must be an integer in 0..100000\n");
  // (Values built before co_await: GCC 12 mishandles string literals inside co_await operands.)
  core::Response head = text(200, std::string());
  if (co_await ctx.send_head(std::move(head)) != core::Errc::ok) co_return std::nullopt;
  for (unsigned i = 0; i < *chunks; ++i) {
    const bool last = i + 1 == *chunks;
    const std::string chunk = "chunk " + std::to_string(i) + "\n";
    if (co_await ctx.send_chunk(chunk, last) != core::Errc::ok) {
      co_return std::nullopt;
    }
  }
  if (*chunks == 0) co_await ctx.send_chunk(std::string_view(), true);
  co_return std::nullopt;
}

asio::awaitable<std::optional<core::Response>> status(RequestContext& ctx) {
  const auto code = number(ctx.param("code"), 999);
  if (!code || *code < 100) co_return text(400, "code must be an integer in 100..999\n");
  co_return text(static_cast<std::uint16_t>(*code), "status " + std::to_string(*code) + "\n");
}

}  // namespace

void add_demo_endpoints(Service& service) {
  service.add({"GET", "/api/v1/demo/echo", 0, false, {}, ""}, echo);
  service.add({"POST", "/api/v1/demo/echo", 0, false, {}, ""}, echo);
  service.add({"GET", "/api/v1/demo/slow/{ms}", 0, false, {}, ""}, slow);
  service.add({"GET", "/api/v1/demo/stream/{chunks}", 0, true, {}, ""}, stream);
  service.add({"GET", "/api/v1/demo/status/{code}", 0, false, {}, ""}, status);
  // Precedence showcase: a literal beats a parameter, a parameter beats a catch-all.
  service.add({"GET", "/api/v1/demo/items/special", 0, false, {}, ""}, echo);
  service.add({"GET", "/api/v1/demo/items/{id}", 0, false, {}, ""}, echo);
  service.add({"GET", "/api/v1/demo/files/{*path}", 0, false, {}, ""}, echo);
}

}  // namespace stella::microservice
