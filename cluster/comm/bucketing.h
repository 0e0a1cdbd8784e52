// Bucket assignment for the gradient reducer: which layers' gradients travel
// together in one all-reduce. Pure: numbers in, numbers out (tested without MPI).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace rampart {

struct Bucket {
  int64_t begin = 0, end = 0;  // element range [begin, end) of the flat gradient buffer
  std::vector<int> layers;     // the layers whose gradients fill it, last layer first
};

// layer_ranges: per layer in forward order, the element range [begin, end) of
// its parameters in the flat buffer; empty for parameterless layers (those
// belong to no bucket). Ranges must be increasing and must not overlap.
// Returns buckets in reverse layer order (the order backward fills them), each
// covering whole layers that are adjacent in the buffer. A bucket holds at most
// bucket_bytes, except that a layer larger than bucket_bytes gets a bucket of
// its own. Throws std::invalid_argument for bad ranges or sizes.
std::vector<Bucket> assign_buckets(const std::vector<std::pair<int64_t, int64_t>>& layer_ranges,
                                   int64_t bucket_bytes, int elem_size);

}  // namespace rampart
