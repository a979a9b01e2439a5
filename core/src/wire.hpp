// Big-endian primitives and the (tag u16, length u32, value) field layout shared by the encoder
// and the decoder. Private to stella::core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stella/core/errc.hpp"

namespace stella::core::wire {

inline constexpr std::size_t kFieldHeaderSize = 6;  // tag u16 + length u32

inline void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}
inline void put_u16(std::string& out, std::uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}
inline void put_u32(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
inline void put_u64(std::string& out, std::uint64_t v) {
  put_u32(out, static_cast<std::uint32_t>(v >> 32));
  put_u32(out, static_cast<std::uint32_t>(v));
}
inline void patch_u32(std::string& out, std::size_t at, std::uint32_t v) {
  out[at] = static_cast<char>(v >> 24);
  out[at + 1] = static_cast<char>(v >> 16);
  out[at + 2] = static_cast<char>(v >> 8);
  out[at + 3] = static_cast<char>(v);
}

inline std::uint8_t get_u8(const char* p) {
  return static_cast<std::uint8_t>(p[0]);
}
inline std::uint16_t get_u16(const char* p) {
  return static_cast<std::uint16_t>((get_u8(p) << 8) | get_u8(p + 1));
}
inline std::uint32_t get_u32(const char* p) {
  return (std::uint32_t{get_u8(p)} << 24) | (std::uint32_t{get_u8(p + 1)} << 16) |
         (std::uint32_t{get_u8(p + 2)} << 8) | std::uint32_t{get_u8(p + 3)};
}
inline std::uint64_t get_u64(const char* p) {
  return (std::uint64_t{get_u32(p)} << 32) | get_u32(p + 4);
}

/// One field as read: its tag, its value bytes, and the offset of its field header relative to
/// the start of the frame (for error reports).
struct Field {
  std::uint16_t tag = 0;
  std::string_view value;
  std::size_t offset = 0;
};

/// Walks the fields of one container (a payload or a nested field value).
class FieldCursor {
 public:
  /// `base_offset`: offset of `data` relative to the start of the frame.
  FieldCursor(std::string_view data, std::size_t base_offset) : data_(data), base_(base_offset) {}

  bool done() const noexcept { return pos_ == data_.size(); }

  /// Reads the next field; Errc::truncated_field if its header or value runs past the end.
  Errc next(Field& f) noexcept {
    f.offset = base_ + pos_;
    if (data_.size() - pos_ < kFieldHeaderSize) return Errc::truncated_field;
    const char* p = data_.data() + pos_;
    f.tag = get_u16(p);
    const std::uint32_t len = get_u32(p + 2);
    if (data_.size() - pos_ - kFieldHeaderSize < len) return Errc::truncated_field;
    f.value = data_.substr(pos_ + kFieldHeaderSize, len);
    pos_ += kFieldHeaderSize + len;
    return Errc::ok;
  }

 private:
  std::string_view data_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

}  // namespace stella::core::wire
