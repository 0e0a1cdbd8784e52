// Field readers for layer specs; see spec_fields.h.
#include "runtime/layers/spec_fields.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "runtime/errors.h"

namespace rampart {

std::string json_brief(const nlohmann::json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

nlohmann::json pair_json(std::pair<int, int> p) {
  if (p.first == p.second) return p.first;
  return nlohmann::json::array({p.first, p.second});
}

SpecFields::SpecFields(const nlohmann::json& spec, int index, std::string type,
                       std::initializer_list<const char*> allowed)
    : spec_(spec), index_(index), type_(std::move(type)) {
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    if (it.key() == "type") continue;
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      fail("unknown field \"" + it.key() + "\"; expected " +
           (list.empty() ? std::string("no fields besides \"type\"") : "only " + list));
    }
  }
}

void SpecFields::fail(const std::string& msg) const {
  throw ConfigError("layer " + std::to_string(index_) + " (" + type_ + "): " + msg);
}

bool SpecFields::is_null(const char* key) const { return spec_.contains(key) && spec_[key].is_null(); }

const nlohmann::json& SpecFields::get(const char* key) const {
  if (!spec_.contains(key)) fail(std::string("missing required field \"") + key + "\"");
  return spec_[key];
}

static bool as_int(const nlohmann::json& v, int64_t& out) {
  if (v.is_number_integer()) { out = v.get<int64_t>(); return true; }
  // 3.0 is accepted as 3 (JSON writers sometimes print integers as floats).
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) { out = int64_t(d); return true; }
  }
  return false;
}

int SpecFields::positive_int(const char* key) const {
  const auto& v = get(key);
  int64_t x;
  if (!as_int(v, x) || x <= 0 || x > std::numeric_limits<int>::max())
    fail(std::string("\"") + key + "\" must be a positive integer, found " + json_brief(v));
  return int(x);
}

int SpecFields::int_or(const char* key, int def, int min) const {
  if (!spec_.contains(key)) return def;
  const auto& v = spec_[key];
  int64_t x;
  if (!as_int(v, x) || x < min || x > std::numeric_limits<int>::max())
    fail(std::string("\"") + key + "\" must be an integer >= " + std::to_string(min) + ", found " +
         json_brief(v));
  return int(x);
}

bool SpecFields::bool_or(const char* key, bool def) const {
  if (!spec_.contains(key)) return def;
  const auto& v = spec_[key];
  if (!v.is_boolean()) fail(std::string("\"") + key + "\" must be true or false, found " + json_brief(v));
  return v.get<bool>();
}

double SpecFields::positive_number_or(const char* key, double def) const {
  if (!spec_.contains(key)) return def;
  const auto& v = spec_[key];
  if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
    fail(std::string("\"") + key + "\" must be a positive number, found " + json_brief(v));
  return v.get<double>();
}

double SpecFields::number_in_or(const char* key, double def, double lo, double hi) const {
  if (!spec_.contains(key)) return def;
  const auto& v = spec_[key];
  if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "\" must be a number in [%g, %g], found ", lo, hi);
    fail(std::string("\"") + key + buf + json_brief(v));
  }
  return v.get<double>();
}

std::pair<int, int> SpecFields::pair(const char* key, std::pair<int, int> def, int min) const {
  if (!spec_.contains(key)) {
    if (def.first < 0) get(key);  // throws "missing required field"
    return def;
  }
  const auto& v = spec_[key];
  std::string what = std::string("\"") + key + "\" must be an integer >= " + std::to_string(min) +
                     " or a list [h, w] of such integers, found " + json_brief(v);
  int64_t a, b;
  if (as_int(v, a)) {
    if (a < min || a > std::numeric_limits<int>::max()) fail(what);
    return {int(a), int(a)};
  }
  if (v.is_array() && v.size() == 2 && as_int(v[0], a) && as_int(v[1], b) && a >= min && b >= min &&
      a <= std::numeric_limits<int>::max() && b <= std::numeric_limits<int>::max())
    return {int(a), int(b)};
  fail(what);
}

std::vector<float> SpecFields::numbers(const char* key) const {
  const auto& v = get(key);
  std::vector<float> out;
  if (v.is_array() && !v.empty()) {
    for (const auto& e : v) {
      if (!e.is_number() || !std::isfinite(e.get<double>())) { out.clear(); break; }
      out.push_back(e.get<float>());
    }
  }
  if (out.empty()) fail(std::string("\"") + key + "\" must be a non-empty list of numbers, found " + json_brief(v));
  return out;
}

}  // namespace rampart
