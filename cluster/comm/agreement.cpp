// check_agreement(): one all-gather of every rank's facts, the same verdict on every rank.
#include "cluster/comm/agreement.h"

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <stdexcept>

#include "runtime/errors.h"

namespace rampart {
namespace {

using Facts = std::vector<std::pair<std::string, std::string>>;
const char* kHint = "start every rank with the same --config and model";

// Length-prefixed, so names and values may contain any byte.
void put(std::string& out, const std::string& s) {
  uint64_t n = s.size();
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out += s;
}

std::string get(const std::string& in, size_t& pos) {
  uint64_t n = 0;
  if (pos + sizeof n > in.size()) throw std::runtime_error("truncated");
  std::copy_n(in.data() + pos, sizeof n, reinterpret_cast<char*>(&n));
  pos += sizeof n;
  if (n > in.size() - pos) throw std::runtime_error("truncated");
  std::string s = in.substr(pos, size_t(n));
  pos += size_t(n);
  return s;
}

std::string serialize(const Facts& facts) {
  std::string out;
  for (const auto& [name, value] : facts) {
    put(out, name);
    put(out, value);
  }
  return out;
}

Facts deserialize(const std::string& in) {
  Facts facts;
  size_t pos = 0;
  while (pos < in.size()) {
    std::string name = get(in, pos);
    facts.emplace_back(std::move(name), get(in, pos));
  }
  return facts;
}

std::string shorten(const std::string& v) {
  return v.size() <= 80 ? v : v.substr(0, 77) + "...";
}

// "rank 0 has X, ranks 1-3 have Y": ranks grouped by value, in order of first appearance.
std::string groups(const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::vector<int>>> by_value;
  for (int r = 0; r < int(values.size()); ++r) {
    auto it = std::find_if(by_value.begin(), by_value.end(), [&](const auto& g) { return g.first == values[size_t(r)]; });
    if (it == by_value.end())
      by_value.push_back({values[size_t(r)], {r}});
    else
      it->second.push_back(r);
  }
  std::string out;
  for (const auto& [value, ranks] : by_value) {
    if (!out.empty()) out += ", ";
    // Appended piece by piece (GCC 12 warns falsely on "literal" + std::string&&).
    out += ranks.size() == 1 ? "rank " : "ranks ";
    out += format_ranks(ranks);
    out += ranks.size() == 1 ? " has " : " have ";
    out += shorten(value);
  }
  return out;
}

std::string names(const Facts& facts) {
  std::string out;
  for (const auto& f : facts) {
    out += out.empty() ? "\"" : ", \"";
    out += f.first;
    out += "\"";
  }
  return "[" + out + "]";
}

}  // namespace

std::string format_ranks(const std::vector<int>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(ranks[i]);
    if (j > i) {
      out += j == i + 1 ? "," : "-";
      out += std::to_string(ranks[j]);
    }
    i = j + 1;
  }
  return out;
}

std::string agreement_error(const std::vector<Facts>& per_rank) {
  if (per_rank.empty()) return "";
  // The lists of fact names first: differing lists mean differing rampart builds.
  std::vector<std::string> lists;
  for (const auto& f : per_rank) lists.push_back(names(f));
  for (const auto& l : lists)
    if (l != lists[0])
      return "ranks disagree on which facts to check (different rampart versions?): " + groups(lists) +
             "; run the same rampart build on every rank";
  std::vector<std::string> differing;
  std::string first;
  for (size_t k = 0; k < per_rank[0].size(); ++k) {
    std::vector<std::string> values;
    for (const auto& f : per_rank) values.push_back(f[k].second);
    bool same = true;
    for (const auto& v : values) same = same && v == values[0];
    if (same) continue;
    if (first.empty())
      first = "ranks disagree on \"" + per_rank[0][k].first + "\": " + groups(values);
    else
      differing.push_back("\"" + per_rank[0][k].first + "\"");
  }
  if (first.empty()) return "";
  if (!differing.empty()) {
    first += " (they also disagree on ";
    for (size_t i = 0; i < differing.size(); ++i) first += (i ? ", " : "") + differing[i];
    first += ")";
  }
  return first + "; " + kHint;
}

void check_agreement(Communicator& comm, const Facts& facts) {
  std::vector<std::string> gathered = comm.allgather(serialize(facts));
  std::vector<Facts> per_rank;
  per_rank.reserve(gathered.size());
  for (size_t r = 0; r < gathered.size(); ++r) {
    try {
      per_rank.push_back(deserialize(gathered[r]));
    } catch (const std::runtime_error&) {
      // Every rank sees the same bytes, so every rank throws this too.
      throw ConfigError("rank " + std::to_string(r) + " sent a malformed agreement record; " + kHint);
    }
  }
  std::string err = agreement_error(per_rank);
  if (!err.empty()) throw ConfigError(err);
}

std::string hash_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char ch : s) { h ^= ch; h *= 1099511628211ull; }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

}  // namespace rampart
