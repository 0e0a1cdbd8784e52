// The one JSON parse for text a user hands rampart (--model specs, a checkpoint's JSON
// attributes, --step-costs): nlohmann::json::parse, but a key given twice in one object is
// refused instead of silently keeping the last, and a parse error never quotes raw bytes.
#pragma once
#include <cstdint>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rampart {

// Why a text is not acceptable JSON. what() is one printable line; the caller adds the
// file or flag and the error class (exit code).
struct JsonTextError : std::runtime_error {
  enum class Kind { kSyntax, kDuplicateKey };
  JsonTextError(Kind k, const std::string& w, std::string key = {}, int64_t element = -1)
      : std::runtime_error(w), kind(k), key(std::move(key)), element(element) {}
  Kind kind;
  std::string key;       // kDuplicateKey: the key given twice
  int64_t element = -1;  // kDuplicateKey: its element of a top-level array (a layer), -1 if none
};

namespace json_detail {
inline bool printable(unsigned char c) { return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r'; }
inline std::string hex_byte(unsigned char c) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02x", unsigned(c));
  return b;
}
}  // namespace json_detail

// Parses `text`; throws JsonTextError (never nlohmann's exceptions).
inline nlohmann::json parse_json_strict(const std::string& text) {
  using nlohmann::json;
  struct Frame {
    bool object;
    std::set<std::string> keys;
    int64_t done = 0;  // elements (values) completed in this frame
  };
  std::vector<Frame> stack;
  auto on_event = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start: stack.push_back({true, {}}); break;
      case json::parse_event_t::array_start: stack.push_back({false, {}}); break;
      case json::parse_event_t::key: {
        std::string k = parsed.get<std::string>();
        if (!stack.back().keys.insert(k).second) {
          const int64_t element = stack.size() >= 2 && !stack.front().object ? stack.front().done : -1;
          throw JsonTextError(JsonTextError::Kind::kDuplicateKey,
                              "key \"" + k + "\" is given more than once in one object", k, element);
        }
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        if (!stack.empty()) ++stack.back().done;
        break;
      case json::parse_event_t::value:
        if (!stack.empty()) ++stack.back().done;
        break;
    }
    return true;
  };
  try {
    return json::parse(text, on_event);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    bool clean = true;
    for (unsigned char c : what) clean = clean && json_detail::printable(c) && c != '\n' && c != '\r';
    if (clean) throw JsonTextError(JsonTextError::Kind::kSyntax, what);
    // nlohmann quotes what it read last: describe the first byte that is not text instead.
    size_t off = 0, end = std::min<size_t>(text.size(), e.byte > 0 ? size_t(e.byte) : text.size());
    while (off < end && json_detail::printable(static_cast<unsigned char>(text[off]))) ++off;
    if (off == end && end > 0) off = end - 1;
    size_t cut = what.find("; last read:");
    std::string head = what.substr(0, cut);
    for (char& c : head)
      if (!json_detail::printable(static_cast<unsigned char>(c)) || c == '\n' || c == '\r') c = '?';
    const std::string byte =
        off < text.size() ? "byte " + json_detail::hex_byte(static_cast<unsigned char>(text[off])) + " at offset " +
                                std::to_string(off) + ", not text (a binary file?)"
                          : "a byte that is not text";
    throw JsonTextError(JsonTextError::Kind::kSyntax, head + "; found " + byte);
  } catch (const json::exception& e) {  // out_of_range: a number too large
    throw JsonTextError(JsonTextError::Kind::kSyntax, e.what());
  }
}

}  // namespace rampart
