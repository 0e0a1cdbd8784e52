// Greedy bucket assignment from the last layer to the first.
#include "cluster/comm/bucketing.h"

#include <stdexcept>
#include <string>

namespace rampart {

std::vector<Bucket> assign_buckets(const std::vector<std::pair<int64_t, int64_t>>& layer_ranges,
                                   int64_t bucket_bytes, int elem_size) {
  if (bucket_bytes <= 0) throw std::invalid_argument("assign_buckets: bucket_bytes must be positive");
  if (elem_size <= 0) throw std::invalid_argument("assign_buckets: elem_size must be positive");
  int64_t prev_end = 0;
  for (size_t i = 0; i < layer_ranges.size(); ++i) {
    auto [b, e] = layer_ranges[i];
    if (b < 0 || e < b)
      throw std::invalid_argument("assign_buckets: layer " + std::to_string(i) + " has range [" + std::to_string(b) +
                                  ", " + std::to_string(e) + ")");
    if (b == e) continue;
    if (b < prev_end)
      throw std::invalid_argument("assign_buckets: layer " + std::to_string(i) +
                                  " overlaps or precedes the previous layer's range");
    prev_end = e;
  }

  std::vector<Bucket> buckets;
  Bucket cur;
  auto close = [&] {
    if (!cur.layers.empty()) buckets.push_back(std::move(cur));
    cur = Bucket{};
  };
  for (int i = int(layer_ranges.size()) - 1; i >= 0; --i) {
    auto [b, e] = layer_ranges[size_t(i)];
    if (b == e) continue;
    // Start a new bucket when this layer would overflow the current one, or is
    // not adjacent to it (a gap in the buffer must not be all-reduced).
    bool fits = (cur.end - b) * int64_t(elem_size) <= bucket_bytes;
    if (!cur.layers.empty() && (!fits || e != cur.begin)) close();
    if (cur.layers.empty()) cur.end = e;
    cur.begin = b;
    cur.layers.push_back(i);
  }
  close();
  return buckets;
}

}  // namespace rampart
