// Spec fields and shapes shared by maxpool2d and avgpool2d (PyTorch's
// kernel_size, stride = kernel_size, padding = 0; ceil_mode is not supported).
#pragma once
#include <string>

#include "kernels/cpu/pool.h"
#include "runtime/layers/layer_util.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {

inline kernels::cpu::PoolGeometry parse_pool_spec(const nlohmann::json& spec, int index, const char* type) {
  SpecFields f(spec, index, type, {"kernel_size", "stride", "padding"});
  kernels::cpu::PoolGeometry g;
  auto k = f.pair("kernel_size", {-1, -1}, 1);
  auto s = f.has("stride") && !f.is_null("stride") ? f.pair("stride", k, 1) : k;
  auto p = f.pair("padding", {0, 0}, 0);
  if (p.first > k.first / 2 || p.second > k.second / 2)
    f.fail("\"padding\" must be at most half of \"kernel_size\" (as in PyTorch), found padding " +
           json_brief(pair_json(p)) + " with kernel_size " + json_brief(pair_json(k)));
  g.kh = k.first; g.kw = k.second;
  g.sh = s.first; g.sw = s.second;
  g.ph = p.first; g.pw = p.second;
  return g;
}

inline nlohmann::json pool_spec_json(const kernels::cpu::PoolGeometry& g, const char* type) {
  return {{"type", type},
          {"kernel_size", pair_json({g.kh, g.kw})},
          {"stride", pair_json({g.sh, g.sw})},
          {"padding", pair_json({g.ph, g.pw})}};
}

inline Shape pool_output_shape(const kernels::cpu::PoolGeometry& g, const Shape& in, int index,
                               const char* type) {
  if (in.size() != 4) layer_error(index, type, "expected an input [N, C, H, W], found " + shape_str(in));
  if (in[2] + 2 * g.ph < g.kh || in[3] + 2 * g.pw < g.kw)
    layer_error(index, type, "kernel " + std::to_string(g.kh) + "x" + std::to_string(g.kw) +
                                 " does not fit the padded input " + std::to_string(in[2] + 2 * g.ph) + "x" +
                                 std::to_string(in[3] + 2 * g.pw) + " (input " + shape_str(in) + ")");
  return {in[0], in[1], (in[2] + 2 * g.ph - g.kh) / g.sh + 1, (in[3] + 2 * g.pw - g.kw) / g.sw + 1};
}

}  // namespace rampart
