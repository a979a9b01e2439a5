// parse_strict_json: nlohmann's SAX parser driving a DOM builder that refuses duplicate member
// names and excess depth as they are seen, so a hostile document is abandoned at the first
// offence instead of being built in full first.
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stella/core/strict_json.hpp"

namespace stella::core {

namespace {

using json = nlohmann::json;

class StrictBuilder {
 public:
  explicit StrictBuilder(std::size_t max_depth) : max_depth_(max_depth) {}

  bool null() { return put(json(nullptr)); }
  bool boolean(bool v) { return put(json(v)); }
  bool number_integer(json::number_integer_t v) { return put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return put(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t& /*text*/) { return put(json(v)); }
  bool string(json::string_t& v) { return put(json(std::move(v))); }
  bool binary(json::binary_t& /*v*/) { return fail("binary value"); }

  bool start_object(std::size_t /*elements*/) { return open(json::object()); }
  bool key(json::string_t& name) {
    json& obj = *stack_.back();
    if (obj.contains(name)) return fail("duplicate member name");
    key_ = std::move(name);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*elements*/) { return open(json::array()); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*ex*/) {
    if (error_.empty()) error_ = "invalid JSON at byte " + std::to_string(position);
    return false;
  }

  json& result() { return root_; }
  const std::string& error() const { return error_; }

 private:
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  // Places a finished value: the root, the next array element or the member named by key_.
  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    auto [it, inserted] = parent.emplace(std::move(key_), std::move(v));
    return &*it;
  }

  bool put(json&& v) {
    place(std::move(v));
    return true;
  }

  bool open(json&& container) {
    if (stack_.size() + 1 > max_depth_) return fail("nesting too deep");
    stack_.push_back(place(std::move(container)));
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  std::size_t max_depth_;
  json root_;
  std::vector<json*> stack_;  // open containers; pointers stay valid (a std::map node or the
                              // last element of an array that is only appended to after it
                              // is closed)
  std::string key_;
  std::string error_;
};

}  // namespace

std::optional<nlohmann::json> parse_strict_json(std::string_view text, const JsonLimits& limits,
                                                std::string* error) {
  auto refuse = [&](std::string why) -> std::optional<nlohmann::json> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (text.size() > limits.max_bytes)
    return refuse("JSON of " + std::to_string(text.size()) + " bytes exceeds " +
                  std::to_string(limits.max_bytes));
  try {
    StrictBuilder builder(limits.max_depth);
    if (!json::sax_parse(text.data(), text.data() + text.size(), &builder))
      return refuse(builder.error().empty() ? "invalid JSON" : builder.error());
    return std::move(builder.result());
  } catch (const std::exception&) {
    // Only allocation failure gets here: nlohmann reports syntax errors through parse_error.
    return refuse("JSON parser failure");
  }
}

}  // namespace stella::core
