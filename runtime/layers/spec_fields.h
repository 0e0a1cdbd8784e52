// Reading the fields of one layer's JSON spec, with errors that name the layer,
// the field, what was expected and what was found (../../../shared/DESIGN.md).
#pragma once
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rampart {

class SpecFields {
 public:
  // Throws ConfigError when spec has a field not in allowed ("type" is always allowed).
  SpecFields(const nlohmann::json& spec, int index, std::string type,
             std::initializer_list<const char*> allowed);

  // A required positive integer.
  int positive_int(const char* key) const;
  // An integer >= min, or def when absent.
  int int_or(const char* key, int def, int min) const;
  bool bool_or(const char* key, bool def) const;
  // A number > 0 (strictly) or def when absent.
  double positive_number_or(const char* key, double def) const;
  // A number in [lo, hi] or def when absent.
  double number_in_or(const char* key, double def, double lo, double hi) const;
  bool is_null(const char* key) const;
  // An int or a list [h, w] of ints >= min; def when absent (def.first < 0: required).
  std::pair<int, int> pair(const char* key, std::pair<int, int> def, int min) const;
  // A non-empty list of numbers.
  std::vector<float> numbers(const char* key) const;

  // "layer 3 (conv2d): " + msg, as a ConfigError.
  [[noreturn]] void fail(const std::string& msg) const;
  bool has(const char* key) const { return spec_.contains(key); }

 private:
  const nlohmann::json& get(const char* key) const;
  const nlohmann::json& spec_;
  int index_;
  std::string type_;
};

// "[3, 3]" or "3" for a (h, w) pair: the spec form PyTorch would print back.
nlohmann::json pair_json(std::pair<int, int> p);

// The text of a JSON value for error messages, shortened if long.
std::string json_brief(const nlohmann::json& v);

}  // namespace rampart
