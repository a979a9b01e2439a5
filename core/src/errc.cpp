#include "stella/core/errc.hpp"

#include <string>

namespace stella::core {

std::string_view errc_name(Errc e) noexcept {
  switch (e) {
    case Errc::ok:
      return "ok";
    case Errc::bad_magic:
      return "bad_magic";
    case Errc::unsupported_version:
      return "unsupported_version";
    case Errc::payload_too_large:
      return "payload_too_large";
    case Errc::invalid_stream_id:
      return "invalid_stream_id";
    case Errc::reserved_bits_set:
      return "reserved_bits_set";
    case Errc::truncated_field:
      return "truncated_field";
    case Errc::invalid_field_length:
      return "invalid_field_length";
    case Errc::missing_field:
      return "missing_field";
    case Errc::duplicate_field:
      return "duplicate_field";
    case Errc::invalid_value:
      return "invalid_value";
    case Errc::string_too_long:
      return "string_too_long";
    case Errc::too_many_items:
      return "too_many_items";
    case Errc::header_block_too_large:
      return "header_block_too_large";
    case Errc::trailing_bytes:
      return "trailing_bytes";
    case Errc::unexpected_frame:
      return "unexpected_frame";
    case Errc::unknown_stream:
      return "unknown_stream";
    case Errc::duplicate_stream:
      return "duplicate_stream";
    case Errc::too_many_streams:
      return "too_many_streams";
    case Errc::output_overflow:
      return "output_overflow";
    case Errc::hello_timeout:
      return "hello_timeout";
    case Errc::peer_silent:
      return "peer_silent";
    case Errc::version_mismatch:
      return "version_mismatch";
    case Errc::session_not_ready:
      return "session_not_ready";
    case Errc::session_closed:
      return "session_closed";
    case Errc::peer_closed:
      return "peer_closed";
    case Errc::window_exhausted:
      return "window_exhausted";
    case Errc::template_empty:
      return "template_empty";
    case Errc::template_not_absolute:
      return "template_not_absolute";
    case Errc::template_bad_char:
      return "template_bad_char";
    case Errc::template_bad_param:
      return "template_bad_param";
    case Errc::template_duplicate_param:
      return "template_duplicate_param";
    case Errc::template_catch_all_not_last:
      return "template_catch_all_not_last";
    case Errc::template_too_long:
      return "template_too_long";
    case Errc::template_conflict:
      return "template_conflict";
    case Errc::path_not_absolute:
      return "path_not_absolute";
    case Errc::path_bad_percent:
      return "path_bad_percent";
    case Errc::path_encoded_separator:
      return "path_encoded_separator";
    case Errc::path_nul:
      return "path_nul";
    case Errc::path_bad_char:
      return "path_bad_char";
    case Errc::path_escapes_root:
      return "path_escapes_root";
    case Errc::path_too_long:
      return "path_too_long";
  }
  return "unknown";
}

namespace {
class CoreCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "stella.core"; }
  std::string message(int ev) const override {
    return std::string(errc_name(static_cast<Errc>(ev)));
  }
};
}  // namespace

const std::error_category& core_category() noexcept {
  static const CoreCategory category;
  return category;
}

}  // namespace stella::core
