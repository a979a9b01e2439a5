// Field tags of every structured frame payload. docs/protocol.md lists the same numbers; a tag
// once published is never reused for another meaning.
#pragma once

#include <cstdint>

namespace stella::core::tags {

namespace hello {
inline constexpr std::uint16_t kVersionMin = 1, kVersionMax = 2, kService = 3, kServiceVersion = 4,
                               kInstanceId = 5, kRegion = 6, kEndpoint = 7, kMaxInFlight = 8,
                               kRequestWindow = 9;
}
namespace endpoint {
inline constexpr std::uint16_t kMethod = 1, kPath = 2, kTimeoutMs = 3, kStreaming = 4, kClaim = 5,
                               kOpenApi = 6, kAnonymous = 7;
}
namespace claim {
inline constexpr std::uint16_t kType = 1, kValue = 2;
}
namespace hello_ack {
inline constexpr std::uint16_t kVersion = 1, kAccepted = 2, kRejected = 3, kHeartbeatIntervalMs = 4,
                               kNodeId = 5, kMaxPayload = 6, kStreamWindow = 7, kRequestCredit = 8;
}
namespace endpoint_ref {
inline constexpr std::uint16_t kMethod = 1, kPath = 2, kReason = 3, kMessage = 4;
}
namespace heartbeat {
inline constexpr std::uint16_t kSequence = 1, kTimestampUs = 2, kStatus = 3, kInFlight = 4;
}
namespace request {
inline constexpr std::uint16_t kMethod = 1, kPath = 2, kQuery = 3, kHeaders = 4, kBody = 5,
                               kTimeoutMs = 6, kCorrelationId = 7, kTenant = 8, kSubject = 9,
                               kScope = 10, kClaim = 11, kTraceparent = 12, kTracestate = 13,
                               kRoute = 14, kClientId = 15, kDpopJkt = 16, kCertThumbprint = 17;
}
namespace response {
inline constexpr std::uint16_t kStatus = 1, kHeaders = 2, kBody = 3;
}
namespace cancel {
inline constexpr std::uint16_t kReason = 1, kMessage = 2;
}
namespace drain {
inline constexpr std::uint16_t kCode = 1, kLastStreamId = 2, kTimeoutMs = 3, kMessage = 4;
}
namespace credit {
inline constexpr std::uint16_t kIncrement = 1;
}

}  // namespace stella::core::tags
