#include "stella/microservice/demo_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

#include "stella/core/text.hpp"

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

// The value of `name` in a query string ("a=1&interval_ms=5"), undecoded.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// The demo's JSON answers, written straight into the body: one string per response instead of
// a document tree (the echo is the load benchmarks' request). Keys go in the order the caller
// gives them; the callers keep them sorted, as a JSON object library would print them.
class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) {}
  JsonOut& open(char c) {
    comma();
    out_ += c;
    need_comma_ = false;
    return *this;
  }
  JsonOut& close(char c) {
    out_ += c;
    need_comma_ = true;
    return *this;
  }
  JsonOut& key(std::string_view k) {
    string(k);
    out_ += ':';
    need_comma_ = false;
    return *this;
  }
  JsonOut& string(std::string_view v) {
    comma();
    out_ += '"';
    core::append_json_escaped(out_, v);
    out_ += '"';
    need_comma_ = true;
    return *this;
  }
  JsonOut& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  template <class Strings>
  JsonOut& strings(const Strings& list) {
    open('[');
    for (const auto& v : list)
      string(v);
    return close(']');
  }

 private:
  void comma() {
    if (need_comma_) out_ += ',';
  }
  std::string& out_;
  bool need_comma_ = false;
};

// What the gateway said about the caller: set from verified claims only, never from headers.
void identity_json(JsonOut& j, const core::Request& r) {
  j.open('{').field("certThumbprint", r.cert_thumbprint).key("claims").open('[');
  for (const auto& c : r.claims)
    j.open('{').field("type", c.type).field("value", c.value).close('}');
  j.close(']').field("clientId", r.client_id).field("dpopJkt", r.dpop_jkt);
  j.key("scopes").strings(r.scopes).field("subject", r.subject).field("tenant", r.tenant);
  j.close('}');
}

// The answers that need no waiting are immediate handlers: they write into the SDK's reused
// Reply, so the echo (the load benchmarks' request) allocates nothing per request.
void secure(const RequestContext& ctx, Reply& reply) {
  const core::Request& r = ctx.request();
  reply.header("content-type", "application/json");
  JsonOut j(reply.body());
  j.open('{').key("identity");
  identity_json(j, r);
  j.field("message", "hello, " + r.subject).close('}');
}

void echo(const RequestContext& ctx, Reply& reply, const std::string& instance) {
  const core::Request& r = ctx.request();
  reply.header("content-type", "application/json");
  JsonOut j(reply.body());
  j.open('{').field("body", r.body).field("correlationId", r.correlation_id).key("headers");
  j.open('[');
  for (const auto& h : r.headers)
    j.open('[').string(h.name).string(h.value).close(']');
  j.close(']').key("identity");
  identity_json(j, r);
  j.field("instance", instance).field("method", r.method).field("path", r.path);
  j.field("query", r.query).field("route", r.route).key("scopes").strings(r.scopes);
  j.field("subject", r.subject).field("tenant", r.tenant).field("traceparent", r.traceparent);
  j.close('}');
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
  const auto interval_text = query_param(ctx.request().query, "interval_ms");
  const auto interval = number(interval_text, 60'000);
  if (interval_text && !interval)
    co_return text(400, "interval_ms must be an integer in 0..60000\n");
  asio::steady_timer pause(co_await asio::this_coro::executor);
  // (Values built before co_await: GCC 12 mishandles string literals inside co_await operands.)
  core::Response head = text(200, std::string());
  if (co_await ctx.send_head(std::move(head)) != core::Errc::ok) co_return std::nullopt;
  for (unsigned i = 0; i < *chunks; ++i) {
    const bool last = i + 1 == *chunks;
    if (i > 0 && interval.value_or(0) > 0) {
      pause.expires_after(std::chrono::milliseconds(*interval));
      auto [ec] = co_await pause.async_wait(kTuple);
      if (ec) co_return std::nullopt;  // cancelled
    }
    const std::string chunk = "chunk " + std::to_string(i) + "\n";
    if (co_await ctx.send_chunk(chunk, last) != core::Errc::ok) {
      co_return std::nullopt;
    }
  }
  if (*chunks == 0) co_await ctx.send_chunk(std::string_view(), true);
  co_return std::nullopt;
}

// n bytes of a repeating alphabet, streamed in 64 KiB chunks: large downloads without a large
// buffer on either side (the chunk waits for the gateway's credit).
asio::awaitable<std::optional<core::Response>> bytes(RequestContext& ctx) {
  const auto text_n = ctx.param("n");
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text_n->data(), text_n->data() + text_n->size(), n);
  if (ec != std::errc{} || end != text_n->data() + text_n->size() || n > (1ULL << 40))
    co_return text(400, "n must be an integer in 0..1099511627776\n");
  core::Response head{
      200,
      {{"content-type", "application/octet-stream"}, {"content-length", std::to_string(n)}},
      {}};
  if (co_await ctx.send_head(std::move(head)) != core::Errc::ok) co_return std::nullopt;
  static constexpr std::size_t kChunk = 64 * 1024;
  std::string chunk(kChunk, '\0');
  for (std::size_t i = 0; i < kChunk; ++i)
    chunk[i] = static_cast<char>('a' + i % 26);
  std::uint64_t sent = 0;
  do {
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, n - sent));
    sent += len;
    const std::string_view piece(chunk.data(), len);
    if (co_await ctx.send_chunk(piece, sent == n) != core::Errc::ok) co_return std::nullopt;
  } while (sent < n);
  co_return std::nullopt;
}

// Reads a request body of any size, as it streams in, at most `rate` bytes per second (the
// query parameter; absent or 0: as fast as it comes), and says how much it took. With a rate it
// is the slow service of upload tests: the gateway pauses the client instead of buffering.
asio::awaitable<std::optional<core::Response>> sink(RequestContext& ctx,
                                                    const std::string& instance) {
  const auto rate_text = query_param(ctx.request().query, "rate");
  std::uint64_t rate = 0;
  if (rate_text) {
    const auto [end, ec] =
        std::from_chars(rate_text->data(), rate_text->data() + rate_text->size(), rate);
    if (ec != std::errc{} || end != rate_text->data() + rate_text->size() || rate > (1ULL << 40))
      co_return text(400, "rate must be an integer in 0..1099511627776 (bytes per second)\n");
  }
  asio::steady_timer pace(co_await asio::this_coro::executor);
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t total = 0;
  for (;;) {
    std::optional<std::string> piece = co_await ctx.read_body();
    if (!piece) break;
    total += piece->size();
    if (rate > 0) {  // not before the time this many bytes take at `rate`
      pace.expires_at(started + std::chrono::microseconds(total * 1'000'000 / rate));
      auto [ec] = co_await pace.async_wait(kTuple);
      if (ec) co_return std::nullopt;  // cancelled
    }
  }
  if (ctx.cancelled() || !ctx.body_complete()) co_return std::nullopt;  // cut: nobody to tell
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const nlohmann::json j{{"bytes", total}, {"seconds", seconds}, {"instance", instance}};
  co_return core::Response{200, {{"content-type", "application/json"}}, j.dump()};
}

void status(const RequestContext& ctx, Reply& reply) {
  reply.header("content-type", "text/plain; charset=utf-8");
  const auto code = number(ctx.param("code"), 999);
  if (!code || *code < 100) {
    reply.status(400);
    reply.body() = "code must be an integer in 100..999\n";
    return;
  }
  reply.status(static_cast<std::uint16_t>(*code));
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof digits, *code).ptr;
  reply.body().append("status ").append(digits, end).append("\n");
}

// ---- OpenAPI: how the demo describes itself (docs/openapi.md) ------------------------------

using json = nlohmann::json;

json ref(const char* type, const char* name) {
  return {{"$ref", std::string("#/components/") + type + "/" + name}};
}

json json_content(const char* schema) {
  return {{"application/json", {{"schema", ref("schemas", schema)}}}};
}

json text_content() {
  return {{"text/plain", {{"schema", {{"type", "string"}}}}}};
}

json path_integer(const char* name, const char* description, std::uint64_t max) {
  return {{"name", name},
          {"in", "path"},
          {"required", true},
          {"description", description},
          {"schema", {{"type", "integer"}, {"minimum", 0}, {"maximum", max}}}};
}

json operation(const char* id, const char* summary, json responses, json parameters = nullptr) {
  json op = {{"operationId", id}, {"summary", summary}, {"responses", std::move(responses)}};
  if (!parameters.is_null()) op["parameters"] = std::move(parameters);
  return op;
}

json echo_responses() {
  return {{"200",
           {{"description", "The request as the service received it"},
            {"content", json_content("Echo")}}}};
}

json text_responses(const char* ok) {
  return {{"200", {{"description", ok}, {"content", text_content()}}},
          {"400", ref("responses", "BadRequest")}};
}

json demo_components() {
  const json string = {{"type", "string"}};
  const json strings = {{"type", "array"}, {"items", string}};
  json claim = {{"type", "object"},
                {"properties", {{"type", string}, {"value", string}}},
                {"required", {"type", "value"}}};
  json identity = {
      {"type", "object"},
      {"description", "What the gateway verified about the caller (empty without a token)"},
      {"properties",
       {{"subject", string},
        {"tenant", string},
        {"scopes", strings},
        {"clientId", string},
        {"dpopJkt", string},
        {"certThumbprint", string},
        {"claims", {{"type", "array"}, {"items", ref("schemas", "Claim")}}}}}};
  json echo = {
      {"type", "object"},
      {"properties",
       {{"method", string},
        {"path", string},
        {"query", string},
        {"route", {{"type", "string"}, {"description", "The route template that matched"}}},
        {"headers",
         {{"type", "array"},
          {"description", "Header fields as [name, value] pairs"},
          {"items", {{"type", "array"}, {"items", string}, {"minItems", 2}, {"maxItems", 2}}}}},
        {"correlationId", string},
        {"tenant", string},
        {"subject", string},
        {"scopes", strings},
        {"traceparent", string},
        {"body", string},
        {"instance", {{"type", "string"}, {"description", "The demo instance that answered"}}},
        {"identity", ref("schemas", "Identity")}}},
      {"required", {"method", "path", "instance"}}};
  json sink = {{"type", "object"},
               {"properties",
                {{"bytes", {{"type", "integer"}, {"description", "Body bytes read"}}},
                 {"seconds", {{"type", "number"}, {"description", "Time spent reading"}}},
                 {"instance", {{"type", "string"}}}}},
               {"required", {"bytes", "seconds", "instance"}}};
  json secure = {{"type", "object"},
                 {"properties", {{"message", string}, {"identity", ref("schemas", "Identity")}}}};
  return {{"schemas",
           {{"Echo", echo},
            {"Identity", identity},
            {"Claim", claim},
            {"Secure", secure},
            {"Sink", sink}}},
          {"responses",
           {{"BadRequest",
             {{"description", "A parameter is out of range"}, {"content", text_content()}}}}}};
}

}  // namespace

void add_demo_endpoints(Service& service, const std::string& instance, const std::string& prefix) {
  auto at = [&prefix](const char* rest) { return prefix + rest; };
  ImmediateHandler echo_here = [instance](const RequestContext& ctx, Reply& reply) {
    echo(ctx, reply, instance);
  };
  // Every endpoint but /secure and /tenants/ declares itself anonymous: open when the gateway
  // lists demo in auth.anonymousServices, token required otherwise (docs/security.md).
  constexpr bool kOpen = true;
  service.openapi_components(demo_components());
  service.add({"GET", at("/echo"), 0, false, {}, "", kOpen},
              operation("getEcho", "Echo the request", echo_responses()), echo_here);
  json post_echo = operation("postEcho", "Echo the request and its body", echo_responses());
  post_echo["requestBody"] = {{"description", "Any body; it comes back as the echo's body"},
                              {"content", {{"*/*", {{"schema", json::object()}}}}}};
  service.add({"POST", at("/echo"), 0, false, {}, "", kOpen}, post_echo, echo_here);
  service.add({"GET", at("/slow/{ms}"), 0, false, {}, "", kOpen},
              operation("getSlow", "Answer after a delay", text_responses("Slept that long"),
                        {path_integer("ms", "Milliseconds to wait", 3'600'000)}),
              slow);
  service.add({"GET", at("/stream/{chunks}"), 0, true, {}, "", kOpen},
              operation("getStream", "Stream lines, one chunk each",
                        text_responses("'chunk 0' to 'chunk N-1', one per line"),
                        {path_integer("chunks", "How many chunks", 100'000),
                         {{"name", "interval_ms"},
                          {"in", "query"},
                          {"description", "Pause between chunks"},
                          {"schema", {{"type", "integer"}, {"minimum", 0}, {"maximum", 60'000}}}}}),
              stream);
  service.add(
      {"GET", at("/status/{code}"), 0, false, {}, "", kOpen},
      operation(
          "getStatus", "Answer with a given status code",
          {{"default",
            {{"description", "That status, with a short text body"}, {"content", text_content()}}}},
          {path_integer("code", "The status code (100-999)", 999)}),
      status);
  service.add({"GET", at("/bytes/{n}"), 0, true, {}, "", kOpen},
              operation("getBytes", "Download n bytes (a-z repeated), streamed",
                        {{"200",
                          {{"description", "n bytes"},
                           {"content",
                            {{"application/octet-stream",
                              {{"schema", {{"type", "string"}, {"format", "binary"}}}}}}}}},
                         {"400", ref("responses", "BadRequest")}},
                        {path_integer("n", "How many bytes", 1ULL << 40)}),
              bytes);
  json post_sink = operation(
      "postSink", "Read a body of any size (optionally slowly) and count it",
      {{"200",
        {{"description", "How many bytes were read, and how long it took"},
         {"content", json_content("Sink")}}},
       {"400", ref("responses", "BadRequest")}},
      {{{"name", "rate"},
        {"in", "query"},
        {"description", "Read at most this many bytes per second (0: as fast as it comes)"},
        {"schema", {{"type", "integer"}, {"minimum", 0}, {"maximum", 1ULL << 40}}}}});
  post_sink["requestBody"] = {
      {"description", "Any body, of any size"},
      {"content", {{"*/*", {{"schema", {{"type", "string"}, {"format", "binary"}}}}}}}};
  service.add(
      {"POST", at("/sink"), 0, false, {}, "", kOpen}, post_sink,
      [instance](RequestContext& ctx) { return sink(ctx, instance); }, RequestBody::stream);
  // Precedence showcase: a literal beats a parameter, a parameter beats a catch-all.
  service.add(
      {"GET", at("/items/special"), 0, false, {}, "", kOpen},
      operation("getSpecialItem", "A literal segment (beats /items/{id})", echo_responses()),
      echo_here);
  service.add({"GET", at("/items/{id}"), 0, false, {}, "", kOpen},
              operation("getItem", "A parameter segment (beats /files/{*path})", echo_responses()),
              echo_here);
  service.add({"GET", at("/files/{*path}"), 0, false, {}, "", kOpen},
              operation("getFile", "A catch-all: the rest of the path", echo_responses()),
              echo_here);
  // Authorization showcase: a scope, and tenant isolation by the {tenant} parameter.
  service.add(
      {"GET", at("/secure"), 0, false, {{"scope", "demo:read"}}, ""},
      operation(
          "getSecure", "Needs the scope demo:read; says who called",
          {{"200",
            {{"description", "The verified identity"}, {"content", json_content("Secure")}}}}),
      secure);
  service.add({"GET", at("/tenants/{tenant}/echo"), 0, false, {}, ""},
              operation("getTenantEcho", "Echo, for the token's own tenant only", echo_responses()),
              echo_here);
}

}  // namespace stella::microservice
