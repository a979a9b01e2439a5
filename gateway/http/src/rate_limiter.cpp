// Rate limiting (DESIGN.md §6, docs/ratelimit.md). Per request, after authentication:
//
//   policy      the route's rule set: an override matching its service/method/template, else
//               the default; exempt routes are not limited (and get no fields)
//   key         by rate_limiting.key_by (identity by default: tenant and subject, the client's
//               address without a verified identity)
//   gate        the request counts towards the activation gate (last 5 minutes)
//   instance    InstanceLimiter::check: refused → 429, whatever Redis would say
//   environment only with environment rules, the gate open and the breaker letting it: one
//               EVALSHA (EVAL after NOSCRIPT) within checkTimeout; refused → 429; a failure or
//               a timeout counts towards the breaker and the instance decision stands
//
// The answer carries the seed's X-RateLimit-* fields and the IETF RateLimit-Policy/RateLimit
// fields of the deciding rule, on 429s and on every admitted response of a limited route.
#include "stella/gateway/http/rate_limiter.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

#include "stella/core/text.hpp"
#include "stella/gateway/auth/jose.hpp"
#include "stella/gateway/ratelimit/activation_gate.hpp"
#include "stella/gateway/ratelimit/instance_limiter.hpp"
#include "stella/gateway/ratelimit/rate_limit_headers.hpp"
#include "stella/gateway/ratelimit/redis_script.hpp"
#include "stella/gateway/redis/redis_client.hpp"
#include "stella/transport/gateway_listener.hpp"

namespace stella::gw::http {
namespace asio = boost::asio;
namespace rl = ratelimit;

namespace {

std::vector<rl::Rule> to_rules(const std::vector<config::RateLimitRule>& in) {
  std::vector<rl::Rule> out;
  for (const auto& r : in)
    out.push_back({r.max_requests, r.per});
  return out;
}

// Hex SHA-1 of the script: the EVALSHA name Redis gives it (SCRIPT LOAD would answer the same).
std::string sha1_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), md, &n, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

// IPv6 clients are counted by /64 (one host usually holds a whole /64), IPv4-mapped ones as
// IPv4 (a dual-stack listener sees every IPv4 client so): the service listener's own rule.
std::string address_key(std::string_view ip) {
  return "ip:" + transport::GatewayListener::source_of(std::string(ip) + ":0");
}

// A stable name for a level's rules in Redis: gateways with the same rules share counts, and a
// reordered override list never makes two rule sets share (and prune) one hash.
std::string rules_digest(const std::vector<rl::Rule>& rules) {
  std::string text;
  for (const auto& r : rules)
    text += std::to_string(r.max_requests) + "/" + std::to_string(r.per.count()) + ";";
  return auth::base64url_encode(auth::sha256(text)).substr(0, 12);
}

}  // namespace

struct RateLimiter::Impl : std::enable_shared_from_this<Impl> {
  struct Policy {
    std::string name;  // "default" or "overrides[i]" (logs)
    std::vector<rl::Rule> instance_rules, environment_rules;
    /// Null without instance rules. Shared with the default when an override keeps the
    /// default's instance rules: one budget per client, however many overrides it reaches.
    std::shared_ptr<rl::InstanceLimiter> instance;
    std::string environment_name;  // Redis key prefix: a digest of the environment rules
    std::string policy_field;      // RateLimit-Policy of the deciding level
    std::string environment_policy_field;
    bool exempt = false;
  };

  const config::RateLimitConfig cfg;
  Log log;
  const core::Clock* clock = nullptr;
  std::vector<Policy> policies;  // [0]: the default; then one per override, in order
  rl::ActivationGate gate;
  std::unique_ptr<rl::CircuitBreaker> breaker;  // with an environment level
  std::unique_ptr<redis::RedisClient> redis;
  redis::RedisSettings redis_settings;
  const std::string sha = sha1_hex(rl::redis_script());

  std::atomic<std::uint64_t> env_allowed{0}, env_refused{0}, env_error{0}, env_timeout{0},
      env_skipped{0};
  mutable std::mutex duration_mu;
  HistogramData duration;

  Impl(const config::GatewayConfig& c, Log l)
      : cfg(c.rate_limiting),
        log(std::move(l)),
        gate(c.rate_limiting.process_back_pressure_per_5min) {}

  const Policy* policy_for(const Route& route, int& index) const {
    for (std::size_t i = 0; i < cfg.overrides.size(); ++i) {
      const auto& o = cfg.overrides[i];
      if ((o.service.empty() || o.service == route.service) &&
          (o.method.empty() || o.method == route.method) &&
          (o.path.empty() || o.path == route.template_text)) {
        index = static_cast<int>(i + 1);
        return &policies[i + 1];
      }
    }
    index = 0;
    return &policies[0];
  }

  std::string key_of(const RequestHead& head, const ConnectionFacts& facts,
                     const Exchange& ex) const {
    const auto& id = ex.identity;
    const auto& f = ex.proxy.frame;
    switch (cfg.key_by) {
      case config::RateLimitKey::identity:
        if (id.authenticated) return "id:" + id.tenant + '\x1f' + id.subject;
        break;
      case config::RateLimitKey::tenant:
        if (id.authenticated && !id.tenant.empty()) return "tenant:" + id.tenant;
        break;
      case config::RateLimitKey::subject:
        if (id.authenticated && !id.subject.empty()) return "sub:" + id.subject;
        break;
      case config::RateLimitKey::client_id:
        if (id.authenticated && !f.client_id.empty()) return "client:" + f.client_id;
        break;
      case config::RateLimitKey::header:
        if (auto v = head.field(cfg.key_header); !v.empty()) return "h:" + std::string(v);
        break;
      case config::RateLimitKey::ip:
        break;
    }
    return address_key(facts.peer_ip);
  }

  // The deciding decision's fields, and the policy of its level.
  static void set_fields(Exchange& ex, const rl::Decision& d, const std::string& policy) {
    for (auto& f : rl::rate_limit_fields(d, policy))
      if (f.name != rl::kRetryAfter) ex.response_headers.emplace_back(std::string(f.name), f.value);
  }

  void refuse(Exchange& ex, const rl::Decision& d, const std::string& policy,
              std::string_view level) const {
    Problem p =
        make_problem(Outcome::rate_limited,
                     std::string("rate limit exceeded (") + std::string(level) + " rule " +
                         std::to_string(d.rule) + ": " + std::to_string(d.limit) + " per window)");
    p.headers.emplace_back(std::string(rl::kRetryAfter), rl::retry_after_value(d.retry_after));
    ex.problem = std::move(p);
    set_fields(ex, d, policy);
  }

  RateStep check(const RequestHead& head, const ConnectionFacts& facts, Exchange& ex,
                 core::TimePoint now) {
    int index = 0;
    const Policy* p = policy_for(*ex.proxy.lookup.route, index);
    if (p->exempt || (p->instance_rules.empty() && p->environment_rules.empty()))
      return RateStep::pass;
    auto& st = ex.rate;
    st.policy = index;
    st.key = key_of(head, facts, ex);
    // The gate only decides whether Redis is asked: without an environment level nothing reads
    // it, so nothing counts into it (one shared lock less per request).
    const bool env_active = redis && gate.record(now);
    if (p->instance) {
      st.instance = p->instance->check(st.key, now);
      st.has_instance = true;
      if (!st.instance.allowed) {
        refuse(ex, st.instance, p->policy_field, "instance");
        return RateStep::refuse;
      }
    }
    if (!p->environment_rules.empty() && redis && env_active) {
      st.permit = breaker->try_acquire(now);
      if (st.permit.transition) log_transition(*st.permit.transition);
      if (st.permit) return RateStep::check_environment;
      env_skipped.fetch_add(1, std::memory_order_relaxed);
    }
    if (st.has_instance) set_fields(ex, st.instance, p->policy_field);
    return RateStep::pass;
  }

  void log_transition(const rl::BreakerTransition& t) const {
    log(t.to == rl::BreakerState::open ? "warn" : "info",
        "rate limiting: Redis circuit breaker " + std::string(rl::breaker_state_name(t.from)) +
            " → " + std::string(rl::breaker_state_name(t.to)) +
            (t.to == rl::BreakerState::open ? " (the instance level decides alone meanwhile)"
                                            : ""));
  }

  struct Pending {
    explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<boost::system::result<redis::RedisReply>> reply;
    bool done = false;
  };

  // EVALSHA, then EVAL when the server does not know the script (restart, SCRIPT FLUSH).
  asio::awaitable<void> ask(std::shared_ptr<Pending> pending, std::string key,
                            std::vector<rl::Rule> rules) {
    auto self = shared_from_this();
    auto r = co_await redis->async_command(rl::redis_evalsha_args(sha, key, rules));
    if (r && r->is_error() && rl::is_noscript_error(r->str))
      r = co_await redis->async_command(rl::redis_eval_args(key, rules));
    pending->reply = std::move(r);
    pending->done = true;
    pending->timer.cancel();
  }

  asio::awaitable<RateStep> check_environment(Exchange& ex, core::TimePoint now) {
    auto self = shared_from_this();
    auto& st = ex.rate;
    const Policy& p = policies[static_cast<std::size_t>(st.policy)];
    const auto executor = co_await asio::this_coro::executor;
    auto pending = std::make_shared<Pending>(executor);
    pending->timer.expires_after(cfg.environment_check_timeout);
    const std::string redis_key = "stella:rl:" + p.environment_name + ":" +
                                  auth::base64url_encode(auth::sha256(st.key)).substr(0, 32);
    asio::co_spawn(executor, ask(pending, redis_key, p.environment_rules),
                   [](std::exception_ptr) {});
    co_await pending->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    const core::TimePoint answered = clock->now();
    const core::TimePoint asked = now;
    now = answered;  // the breaker judges a probe by when its answer came (half_open_timeout)
    {
      const double seconds = std::chrono::duration<double>(answered - asked).count();
      std::lock_guard lock(duration_mu);
      duration.observe(seconds);
    }
    std::optional<rl::Decision> d;
    bool timed_out = !pending->done;
    if (!timed_out && *pending->reply &&
        (*pending->reply)->type == redis::RedisReply::Type::array) {
      std::vector<long long> ints;
      for (const auto& e : (*pending->reply)->elements)
        ints.push_back(e.type == redis::RedisReply::Type::integer ? e.integer : -1);
      d = rl::parse_redis_decision(ints, p.environment_rules);
    }
    std::optional<rl::BreakerTransition> t;
    if (d) {
      t = breaker->record_success(st.permit, now);
    } else {
      (timed_out ? env_timeout : env_error).fetch_add(1, std::memory_order_relaxed);
      t = breaker->record_failure(st.permit, now);
    }
    if (t) log_transition(*t);
    if (d && !d->allowed) {
      env_refused.fetch_add(1, std::memory_order_relaxed);
      refuse(ex, *d, p.environment_policy_field, "environment");
      co_return RateStep::refuse;
    }
    if (d) env_allowed.fetch_add(1, std::memory_order_relaxed);
    // The fields of the stricter level (fewer remaining).
    if (d && (!st.has_instance || d->remaining < st.instance.remaining))
      set_fields(ex, *d, p.environment_policy_field);
    else if (st.has_instance)
      set_fields(ex, st.instance, p.policy_field);
    co_return RateStep::pass;
  }
};

RateLimiter::RateLimiter(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
RateLimiter::~RateLimiter() {
  stop();
}

std::unique_ptr<RateLimiter> RateLimiter::create(const config::GatewayConfig& config, Log log,
                                                 const core::Clock& clock, std::uint64_t hash_seed,
                                                 std::string& error) {
  const auto& c = config.rate_limiting;
  auto impl = std::make_shared<Impl>(config, std::move(log));
  impl->clock = &clock;
  // `shared`: the limiter of the default, for an override that keeps its instance rules.
  auto make_policy = [&](const std::string& name, std::vector<rl::Rule> inst,
                         std::vector<rl::Rule> env, bool exempt,
                         std::shared_ptr<rl::InstanceLimiter> shared) -> bool {
    Impl::Policy p;
    p.name = name;
    p.exempt = exempt;
    if (exempt) {  // no rules, no limiter, no memory
      impl->policies.push_back(std::move(p));
      return true;
    }
    p.instance_rules = std::move(inst);
    p.environment_rules = std::move(env);
    if (!p.instance_rules.empty()) {
      if (shared) {
        p.instance = std::move(shared);
      } else {
        rl::InstanceLimiterSettings s;
        s.rules = p.instance_rules;
        s.max_keys = std::max<std::size_t>(c.max_keys, 64);
        s.hash_seed = hash_seed;
        if (auto why = rl::validate(s)) {
          error = "rateLimiting." + name + ".forInstance." + *why;
          return false;
        }
        p.instance = std::make_shared<rl::InstanceLimiter>(std::move(s));
      }
      p.policy_field = rl::ratelimit_policy_value(p.instance_rules);
    }
    if (!p.environment_rules.empty()) {
      if (auto why = rl::validate_rules(p.environment_rules)) {
        error = "rateLimiting." + name + ".forEnvironment." + *why;
        return false;
      }
      p.environment_policy_field = rl::ratelimit_policy_value(p.environment_rules);
      p.environment_name = rules_digest(p.environment_rules);
    }
    impl->policies.push_back(std::move(p));
    return true;
  };
  if (!make_policy("default", to_rules(c.effective_instance_rules()),
                   to_rules(c.effective_environment_rules()), false, nullptr))
    return nullptr;
  for (std::size_t i = 0; i < c.overrides.size(); ++i) {
    const auto& o = c.overrides[i];
    const std::string name = "overrides[" + std::to_string(i) + "]";
    const auto& base = impl->policies[0];
    if (!make_policy(name, o.instance_rules ? to_rules(*o.instance_rules) : base.instance_rules,
                     o.environment_rules ? to_rules(*o.environment_rules) : base.environment_rules,
                     o.exempt, o.instance_rules ? nullptr : base.instance))
      return nullptr;
  }
  bool any_environment = false;
  for (const auto& p : impl->policies)
    any_environment |= !p.environment_rules.empty();
  if (any_environment) {
    const std::string address = c.effective_redis();
    std::string why;
    auto settings = redis::parse_redis_address(address, &why);
    if (!settings) {
      error = "rateLimiting.forEnvironment.valkeyConnection: " + why;
      return nullptr;
    }
    impl->redis_settings = *settings;
    rl::BreakerSettings b;
    b.failure_threshold = c.circuit_failure_threshold;
    b.open_timeout = c.circuit_timeout;
    b.half_open_timeout = c.circuit_half_open_timeout;
    if (auto why2 = rl::validate(b)) {
      error = "rateLimiting.forEnvironment.circuitBreaker: " + *why2;
      return nullptr;
    }
    impl->breaker = std::make_unique<rl::CircuitBreaker>(b);
  }
  return std::unique_ptr<RateLimiter>(new RateLimiter(std::move(impl)));
}

void RateLimiter::start(asio::any_io_executor ex) {
  if (impl_->breaker && !impl_->redis) {
    // A check gives up at checkTimeout; the client's own bound (which resets the connection)
    // stays well above it, so one slow answer does not cost the whole pipelined connection.
    auto s = impl_->redis_settings;
    s.command_timeout = std::max<std::chrono::milliseconds>(
        std::chrono::milliseconds(250), 4 * impl_->cfg.environment_check_timeout);
    impl_->redis = std::make_unique<redis::RedisClient>(ex, s);
  }
}

void RateLimiter::stop() {
  if (impl_ && impl_->redis) impl_->redis->close();
}

RateStep RateLimiter::check(const RequestHead& head, const ConnectionFacts& facts, Exchange& ex,
                            core::TimePoint now) {
  return impl_->check(head, facts, ex, now);
}

asio::awaitable<RateStep> RateLimiter::async_check_environment(Exchange& ex, core::TimePoint now) {
  auto self = impl_;
  const RateStep step = co_await self->check_environment(ex, now);
  co_return step;
}

RateLimitGauges RateLimiter::gauges(core::TimePoint now) const {
  RateLimitGauges g;
  // Overrides that keep the default's instance rules share its limiter: count each once.
  std::vector<rl::InstanceLimiter*> limiters;
  for (const auto& p : impl_->policies)
    if (p.instance &&
        std::find(limiters.begin(), limiters.end(), p.instance.get()) == limiters.end())
      limiters.push_back(p.instance.get());
  for (auto* l : limiters) {
    l->sweep(now);  // idle keys go at each scrape too, not only as checks pass
    g.keys += l->keys();
    g.evictions += l->evictions();
  }
  if (impl_->breaker) {
    g.breaker_state = std::string(rl::breaker_state_name(impl_->breaker->state()));
    g.breaker_transitions = impl_->breaker->transitions();
  }
  g.environment_active = impl_->gate.active(now);
  g.gate_count = impl_->gate.count(now);
  g.environment_checks = {{"allowed", impl_->env_allowed.load()},
                          {"refused", impl_->env_refused.load()},
                          {"error", impl_->env_error.load()},
                          {"timeout", impl_->env_timeout.load()},
                          {"skipped", impl_->env_skipped.load()}};
  std::lock_guard lock(impl_->duration_mu);
  g.environment_duration = impl_->duration;
  return g;
}

}  // namespace stella::gw::http
