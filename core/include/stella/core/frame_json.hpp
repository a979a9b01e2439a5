// JSON and text views of frames, for `stella-gw frame decode/encode` and for tests.
//
// The JSON form has a "type" field with the frame's upper-case name ("HELLO", "REQUEST", ...),
// "stream_id", "flags" (the raw bit set; "flag_names" beside it is informative and ignored on
// input) and one member per field, named as in frame.hpp. Byte strings that are valid UTF-8 are
// JSON strings; others are {"base64": "..."} so that every frame round-trips exactly.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "stella/core/frame.hpp"

namespace stella::core {

nlohmann::ordered_json frame_to_json(const Frame& frame);

/// Parses the JSON form. On failure returns false and sets `error` to a message naming the
/// member ("REQUEST.headers[2].name: expected a string").
bool frame_from_json(const nlohmann::ordered_json& j, Frame& out, std::string& error);

/// A multi-line human-readable rendering (`frame decode --text`).
std::string frame_to_text(const Frame& frame);

}  // namespace stella::core
