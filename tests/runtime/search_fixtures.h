// The fixture of the search attacks' tests (test_search_*.cpp): a model, n examples of 1x12x12
// in [0,1] labelled with the model's own prediction (all clean-correct), keys 1000 + 7e.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "runtime/attacks/search_attacks.h"
#include "runtime/model.h"
#include "runtime/tensor.h"

namespace rampart {

struct SearchFixture {
  Model model;
  Tensor x;
  std::vector<int32_t> y;
  std::vector<int64_t> index;
  SearchBatch batch() const { return {&x, y.data(), index.data()}; }
};

inline SearchFixture make_search_fixture(const std::string& arch, int64_t n, uint64_t seed) {
  Shape in = {1, 12, 12};
  SearchFixture f{Model(expand_model(arch, in), in), Tensor({n, 1, 12, 12}), {}, {}};
  f.model.init(seed);
  std::mt19937 g{uint32_t(seed)};
  std::uniform_real_distribution<float> u(0, 1);
  for (int64_t i = 0; i < f.x.size(); ++i) f.x[i] = u(g);
  const Tensor& z = f.model.forward(f.x, Mode::kEval);
  for (int64_t e = 0; e < n; ++e) {
    f.y.push_back(predicted_class(z.data() + e * z.dim(1), z.dim(1)));
    f.index.push_back(1000 + 7 * e);
  }
  return f;
}

}  // namespace rampart
