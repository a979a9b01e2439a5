// The request pipeline as an ordered list of stages (DESIGN.md §4; the list itself, in request
// order, is in pipeline.cpp).
//
// A stage is immutable config shared by every worker, built once by build_pipeline() (the
// factory), plus per-request state kept in the Exchange. run() decides synchronously: go on,
// answer now (ex.problem or ex.reply is set), or suspend for I/O — then the exchange loop
// co_awaits async_run(), which returns next or respond. A stage that needs no I/O never
// allocates a coroutine frame; a stage that is disabled is not in the list, so it costs
// nothing.
//
// Thread-safety: a Pipeline and its stages are immutable after build and shared by all
// workers; run()/async_run() execute on the worker that owns the connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string_view>
#include <vector>

#include "stella/gateway/http/exchange.hpp"
#include "stella/gateway/http/request_head.hpp"
#include "stella/gateway/http/request_pipeline.hpp"

namespace stella::gw::http {

struct WorkerContext;

enum class StageStatus : std::uint8_t { next, respond, suspend };

/// What a stage may look at besides the Exchange. `head` views the connection's read buffer,
/// which the connection pins (neither moved nor reallocated) while the stages run.
struct StageContext {
  const RequestHead& head;
  const ConnectionFacts& facts;
  WorkerContext& worker;
};

class Stage {
 public:
  virtual ~Stage() = default;
  /// For logs and docs: "correlation-id", "routing", ...
  virtual std::string_view name() const noexcept = 0;
  virtual StageStatus run(Exchange& ex, StageContext& ctx) const = 0;
  /// Called only after run() returned suspend. Returns next or respond.
  virtual boost::asio::awaitable<StageStatus> async_run(Exchange& ex, StageContext& ctx) const;
};

class Pipeline {
 public:
  explicit Pipeline(std::vector<std::unique_ptr<const Stage>> stages)
      : stages_(std::move(stages)) {}
  const std::vector<std::unique_ptr<const Stage>>& stages() const noexcept { return stages_; }

 private:
  std::vector<std::unique_ptr<const Stage>> stages_;
};

struct ServerShared;
/// The stages the configuration enables, in request order (pipeline.cpp).
Pipeline build_pipeline(const ServerShared& shared);

}  // namespace stella::gw::http
