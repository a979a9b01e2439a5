#include "frame_command.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "stella/core/frame_codec.hpp"
#include "stella/core/frame_json.hpp"

namespace stella::cli {
namespace {

struct DecodeOptions {
  std::string hex;
  std::string file;
  bool text = false;
  std::uint32_t max_payload = core::FrameLimits{}.max_payload;
};

struct EncodeOptions {
  std::string json_file;
  bool hex = false;
  std::uint32_t max_payload = core::FrameLimits{}.max_payload;
};

bool read_all(std::istream& in, std::string& out) {
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  return in && read_all(in, out);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex with optional whitespace between bytes. On error, names the character position.
bool parse_hex(std::string_view text, std::string& out, std::string& error) {
  out.clear();
  int high = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      if (high >= 0) {
        error = "odd hex digit before whitespace at position " + std::to_string(i);
        return false;
      }
      continue;
    }
    const int d = hex_digit(c);
    if (d < 0) {
      error = "invalid hex character at position " + std::to_string(i);
      return false;
    }
    if (high < 0) {
      high = d;
    } else {
      out += static_cast<char>(high * 16 + d);
      high = -1;
    }
  }
  if (high >= 0) {
    error = "odd number of hex digits";
    return false;
  }
  return true;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

int run_decode(const DecodeOptions& opt) {
  std::string input;
  if (!opt.hex.empty()) {
    std::string error;
    if (!parse_hex(opt.hex, input, error)) {
      std::fprintf(stderr, "stella-gw frame decode: --hex: %s\n", error.c_str());
      return 1;
    }
  } else if (!opt.file.empty()) {
    if (!read_file(opt.file, input)) {
      std::fprintf(stderr, "stella-gw frame decode: cannot read '%s'\n", opt.file.c_str());
      return 1;
    }
  } else if (!read_all(std::cin, input)) {
    std::fprintf(stderr, "stella-gw frame decode: cannot read standard input\n");
    return 1;
  }

  core::FrameLimits limits;
  limits.max_payload = opt.max_payload;
  core::FrameReader reader(limits);
  reader.feed(input);
  core::Frame frame;
  for (;;) {
    const std::uint64_t frame_start = reader.offset();
    const core::DecodeResult r = reader.next(frame);
    if (r.status == core::DecodeStatus::done) {
      if (opt.text) {
        std::cout << "@" << frame_start << " " << core::frame_to_text(frame);
      } else {
        std::cout << core::frame_to_json(frame).dump() << '\n';
      }
      continue;
    }
    std::cout.flush();
    if (r.status == core::DecodeStatus::error) {
      std::fprintf(stderr,
                   "stella-gw frame decode: error at byte offset %llu: %s (frame starting at "
                   "offset %llu)\n",
                   static_cast<unsigned long long>(frame_start + r.error_offset),
                   std::string(core::errc_name(r.error)).c_str(),
                   static_cast<unsigned long long>(frame_start));
      return 1;
    }
    if (reader.buffered() > 0) {
      std::fprintf(stderr,
                   "stella-gw frame decode: error at byte offset %llu: truncated frame (%zu of "
                   "%zu bytes present)\n",
                   static_cast<unsigned long long>(frame_start + reader.buffered()),
                   reader.buffered(), r.needed);
      return 1;
    }
    return 0;
  }
}

int run_encode(const EncodeOptions& opt) {
  std::unique_ptr<std::istream> owned;
  std::istream* in = &std::cin;
  if (!opt.json_file.empty()) {
    owned = std::make_unique<std::ifstream>(opt.json_file, std::ios::binary);
    if (!*owned) {
      std::fprintf(stderr, "stella-gw frame encode: cannot read '%s'\n", opt.json_file.c_str());
      return 1;
    }
    in = owned.get();
  }
  const std::string source = opt.json_file.empty() ? "<stdin>" : opt.json_file;
  core::FrameLimits limits;
  limits.max_payload = opt.max_payload;
  std::string out;
  std::size_t index = 0;
  // A sequence of JSON values (one per line as `decode` prints them, or pretty-printed), or
  // arrays of them.
  auto encode_one = [&](const nlohmann::ordered_json& j) -> bool {
    core::Frame frame;
    std::string error;
    if (!core::frame_from_json(j, frame, error)) {
      std::fprintf(stderr, "stella-gw frame encode: %s: frame %zu: %s\n", source.c_str(), index,
                   error.c_str());
      return false;
    }
    if (const std::error_code ec = core::encode_frame(frame, out, limits)) {
      std::fprintf(stderr, "stella-gw frame encode: %s: frame %zu: cannot encode: %s\n",
                   source.c_str(), index, ec.message().c_str());
      return false;
    }
    ++index;
    return true;
  };
  while ((*in >> std::ws) && in->peek() != std::char_traits<char>::eof()) {
    nlohmann::ordered_json j;
    try {
      *in >> j;
    } catch (const nlohmann::ordered_json::exception& e) {
      std::fprintf(stderr, "stella-gw frame encode: %s: frame %zu: invalid JSON: %s\n",
                   source.c_str(), index, e.what());
      return 1;
    }
    if (j.is_array()) {
      for (const auto& item : j) {
        if (!encode_one(item)) return 1;
      }
    } else if (!encode_one(j)) {
      return 1;
    }
  }
  if (opt.hex) {
    std::cout << to_hex(out) << '\n';
  } else {
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
  }
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace

void add_frame_command(CLI::App& app, int& exit_code) {
  auto* frame = app.add_subcommand("frame", "Decode and encode wire-protocol frames");
  frame->require_subcommand(1);

  auto dec = std::make_shared<DecodeOptions>();
  auto* decode = frame->add_subcommand(
      "decode",
      "Decode a stream of frames (from --hex, --file, or standard input) and print one JSON "
      "object per frame; exit 1 on malformed input, naming the byte offset");
  auto* hex_opt = decode->add_option("--hex", dec->hex, "Frames as hex digits (spaces allowed)");
  decode->add_option("--file", dec->file, "Read the frames from this file")->excludes(hex_opt);
  decode->add_flag("--text", dec->text, "Print a human-readable form instead of JSON");
  decode->add_option("--max-payload", dec->max_payload, "Largest payload accepted, in bytes")
      ->capture_default_str();
  decode->callback([dec, &exit_code] { exit_code = run_decode(*dec); });

  auto enc = std::make_shared<EncodeOptions>();
  auto* encode = frame->add_subcommand(
      "encode",
      "Encode frames from their JSON form (as `frame decode` prints it) read from --json or "
      "standard input; writes the bytes, or hex with --hex");
  encode->add_option("--json", enc->json_file, "Read the JSON frames from this file");
  encode->add_flag("--hex", enc->hex, "Write hex digits instead of raw bytes");
  encode->add_option("--max-payload", enc->max_payload, "Largest payload allowed, in bytes")
      ->capture_default_str();
  encode->callback([enc, &exit_code] { exit_code = run_encode(*enc); });
}

}  // namespace stella::cli
