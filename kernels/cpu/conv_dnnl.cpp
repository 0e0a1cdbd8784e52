// oneDNN convolution primitives, cached per input shape; see conv_dnnl.h.
// After the first call at a shape nothing is allocated: the argument maps and
// memory objects are built once, and each call only swaps data pointers.
#include "kernels/cpu/conv_dnnl.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/conv_bwd_data_small.h"
#include "kernels/cpu/dnnl_context.h"

namespace rampart::kernels::cpu {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

// Weights in the primitive's format, refreshed from the user's oihw weights
// only when their generation moved on.
struct PackedWeights {
  memory user, packed;   // packed == user when oneDNN wants plain oihw
  dnnl::reorder to_packed;
  bool needs_reorder = false;
  uint64_t gen = 0;      // generation of the user weights held in packed

  void init(const memory::desc& user_md, const memory::desc& want) {
    auto& eng = dnnl_engine();
    user = memory(user_md, eng, DNNL_MEMORY_NONE);
    needs_reorder = want != user_md;
    if (needs_reorder) {
      packed = memory(want, eng);
      to_packed = dnnl::reorder(user, packed);
    } else {
      packed = user;
    }
  }
  // Returns true when a reorder ran.
  bool refresh(const float* w, uint64_t w_gen) {
    user.set_data_handle(const_cast<float*>(w));
    if (!needs_reorder || gen == w_gen) return false;
    to_packed.execute(dnnl_stream(), user, packed);
    gen = w_gen;
    return true;
  }
};

// A BF16 pass's input: the caller's FP32 tensor (user) converted into a BF16 copy (low).
struct LowInput {
  memory user, low;
  dnnl::reorder to_low;

  void init(const memory::desc& user_md, const memory::desc& low_md) {
    auto& eng = dnnl_engine();
    user = memory(user_md, eng, DNNL_MEMORY_NONE);
    low = memory(low_md, eng);
    to_low = dnnl::reorder(user, low);
  }
  void convert(const float* x) {
    user.set_data_handle(const_cast<float*>(x));
    to_low.execute(dnnl_stream(), user, low);
  }
};

struct Fwd {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  memory src, b, dst, scratch;
  LowInput low_src;  // BF16 only: src is its low copy
  PackedWeights w;
  std::unordered_map<int, memory> args;
};

struct BwdData {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  memory ddst, dsrc, scratch;
  LowInput low_ddst;  // BF16 only: ddst is its low copy
  PackedWeights w;
  std::unordered_map<int, memory> args;
};

struct BwdWeights {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  memory src, ddst, dw, db, scratch;
  memory user_dw;  // == dw when oneDNN writes plain oihw
  dnnl::reorder dw_to_user;
  bool needs_reorder = false;
  std::unordered_map<int, memory> args;
};

struct Entry {
  std::unique_ptr<Fwd> fwd;
  std::unique_ptr<BwdData> bwd_data;
  std::unique_ptr<BwdWeights> bwd_weights;
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

}  // namespace

struct ConvDnnl::Impl {
  ConvGeometry g;
  Precision prec = Precision::kFp32;
  // (n, ih, iw, precision) -> primitives; backward_weights is always built at kFp32.
  using Key = std::tuple<int, int, int, int>;
  std::map<Key, Entry> cache;
  Key last_key{-1, -1, -1, -1};
  Entry* last = nullptr;
  // A copy of the weights last seen, to tell whether they changed. Comparing
  // 4*oc*ic*kh*kw bytes costs microseconds and needs no cooperation from the
  // optimizer, unlike a version counter.
  std::vector<float> w_seen;
  const float* w_seen_ptr = nullptr;
  uint64_t w_gen = 0;
  long reorders = 0;
  // Few input channels: backward data runs conv_bwd_data_small (GEMM + col2im)
  // instead of oneDNN; this is its scratch.
  std::vector<float> cols;

  memory::dims strides() const { return {g.sh, g.sw}; }
  memory::dims pad() const { return {g.ph, g.pw}; }
  memory::desc src_md(int n, int ih, int iw, dt type = dt::f32) const { return {{n, g.ic, ih, iw}, type, tag::nhwc}; }
  memory::desc dst_md(int n, int ih, int iw, dt type = dt::f32) const {
    return {{n, g.oc, g.out_h(ih), g.out_w(iw)}, type, tag::nhwc};
  }
  memory::desc w_md(tag t, dt type = dt::f32) const { return {{g.oc, g.ic, g.kh, g.kw}, type, t}; }
  // The data type of the BF16-capable operands (input, weights, dL/dy) at precision p.
  static dt low(Precision p) { return p == Precision::kBf16 ? dt::bf16 : dt::f32; }
  memory::desc b_md() const { return g.bias ? memory::desc({g.oc}, dt::f32, tag::x) : memory::desc(); }

  uint64_t weights_generation(const float* w) {
    size_t count = size_t(g.oc) * g.ic * g.kh * g.kw;
    if (w != w_seen_ptr || std::memcmp(w, w_seen.data(), count * sizeof(float)) != 0) {
      w_seen.assign(w, w + count);
      w_seen_ptr = w;
      ++w_gen;
    }
    return w_gen;
  }

  Entry& entry(int n, int ih, int iw, Precision p = Precision::kFp32) {
    auto key = std::make_tuple(n, ih, iw, int(p));
    if (last && key == last_key) return *last;
    if (g.out_h(ih) <= 0 || g.out_w(iw) <= 0)
      throw std::invalid_argument("ConvDnnl: input " + std::to_string(ih) + "x" + std::to_string(iw) +
                                  " is smaller than the kernel");
    last = &cache[key];
    last_key = key;
    return *last;
  }

  Fwd& fwd(int n, int ih, int iw, Precision p = Precision::kFp32) {
    Entry& e = entry(n, ih, iw, p);
    if (e.fwd) return *e.fwd;
    auto& eng = dnnl_engine();
    auto f = std::make_unique<Fwd>();
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::convolution_direct, src_md(n, ih, iw, low(p)),
                                      w_md(tag::any, low(p)), b_md(), dst_md(n, ih, iw), strides(), pad(), pad());
    f->pd = dnnl::convolution_forward::primitive_desc(d, user_scratchpad(), eng);
    f->prim = dnnl::convolution_forward(f->pd);
    if (p == Precision::kBf16) {
      f->low_src.init(src_md(n, ih, iw), f->pd.src_desc());
      f->src = f->low_src.low;
    } else {
      f->src = memory(f->pd.src_desc(), eng, DNNL_MEMORY_NONE);
    }
    f->dst = memory(f->pd.dst_desc(), eng, DNNL_MEMORY_NONE);
    f->scratch = memory(f->pd.scratchpad_desc(), eng);
    f->w.init(w_md(tag::oihw), f->pd.weights_desc());
    f->args = {{DNNL_ARG_SRC, f->src}, {DNNL_ARG_WEIGHTS, f->w.packed}, {DNNL_ARG_DST, f->dst},
               {DNNL_ARG_SCRATCHPAD, f->scratch}};
    if (g.bias) {
      f->b = memory(f->pd.bias_desc(), eng, DNNL_MEMORY_NONE);
      f->args[DNNL_ARG_BIAS] = f->b;
    }
    e.fwd = std::move(f);
    return *e.fwd;
  }

  BwdData& bwd_data(int n, int ih, int iw, Precision p = Precision::kFp32) {
    Entry& e = entry(n, ih, iw, p);
    if (e.bwd_data) return *e.bwd_data;
    auto& hint = fwd(n, ih, iw, p).pd;
    auto& eng = dnnl_engine();
    auto b = std::make_unique<BwdData>();
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, src_md(n, ih, iw),
                                            w_md(tag::any, low(p)), dst_md(n, ih, iw, low(p)), strides(), pad(),
                                            pad());
    b->pd = dnnl::convolution_backward_data::primitive_desc(d, user_scratchpad(), eng, hint);
    b->prim = dnnl::convolution_backward_data(b->pd);
    if (p == Precision::kBf16) {
      b->low_ddst.init(dst_md(n, ih, iw), b->pd.diff_dst_desc());
      b->ddst = b->low_ddst.low;
    } else {
      b->ddst = memory(b->pd.diff_dst_desc(), eng, DNNL_MEMORY_NONE);
    }
    b->dsrc = memory(b->pd.diff_src_desc(), eng, DNNL_MEMORY_NONE);
    b->scratch = memory(b->pd.scratchpad_desc(), eng);
    b->w.init(w_md(tag::oihw), b->pd.weights_desc());
    b->args = {{DNNL_ARG_DIFF_DST, b->ddst}, {DNNL_ARG_WEIGHTS, b->w.packed},
               {DNNL_ARG_DIFF_SRC, b->dsrc}, {DNNL_ARG_SCRATCHPAD, b->scratch}};
    e.bwd_data = std::move(b);
    return *e.bwd_data;
  }

  BwdWeights& bwd_weights(int n, int ih, int iw) {
    Entry& e = entry(n, ih, iw);
    if (e.bwd_weights) return *e.bwd_weights;
    auto& hint = fwd(n, ih, iw).pd;
    auto& eng = dnnl_engine();
    auto b = std::make_unique<BwdWeights>();
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, src_md(n, ih, iw),
                                               w_md(tag::any), b_md(), dst_md(n, ih, iw), strides(),
                                               pad(), pad());
    b->pd = dnnl::convolution_backward_weights::primitive_desc(d, user_scratchpad(), eng, hint);
    b->prim = dnnl::convolution_backward_weights(b->pd);
    b->src = memory(b->pd.src_desc(), eng, DNNL_MEMORY_NONE);
    b->ddst = memory(b->pd.diff_dst_desc(), eng, DNNL_MEMORY_NONE);
    b->scratch = memory(b->pd.scratchpad_desc(), eng);
    b->user_dw = memory(w_md(tag::oihw), eng, DNNL_MEMORY_NONE);
    b->needs_reorder = b->pd.diff_weights_desc() != w_md(tag::oihw);
    if (b->needs_reorder) {
      b->dw = memory(b->pd.diff_weights_desc(), eng);
      b->dw_to_user = dnnl::reorder(b->dw, b->user_dw);
    } else {
      b->dw = b->user_dw;
    }
    b->args = {{DNNL_ARG_SRC, b->src}, {DNNL_ARG_DIFF_DST, b->ddst},
               {DNNL_ARG_DIFF_WEIGHTS, b->dw}, {DNNL_ARG_SCRATCHPAD, b->scratch}};
    if (g.bias) {
      b->db = memory(b->pd.diff_bias_desc(), eng, DNNL_MEMORY_NONE);
      b->args[DNNL_ARG_DIFF_BIAS] = b->db;
    }
    e.bwd_weights = std::move(b);
    return *e.bwd_weights;
  }
};

ConvDnnl::ConvDnnl(const ConvGeometry& g) : impl_(std::make_unique<Impl>()) {
  if (g.ic <= 0 || g.oc <= 0 || g.kh <= 0 || g.kw <= 0 || g.sh <= 0 || g.sw <= 0 || g.ph < 0 || g.pw < 0)
    throw std::invalid_argument("ConvDnnl: invalid geometry");
  impl_->g = g;
}

ConvDnnl::~ConvDnnl() = default;

void ConvDnnl::forward(int n, int ih, int iw, const float* src, const float* w, const float* b,
                       float* dst) {
  const Precision p = impl_->prec;
  Fwd& f = impl_->fwd(n, ih, iw, p);
  if (f.w.refresh(w, impl_->weights_generation(w))) ++impl_->reorders;
  if (p == Precision::kBf16) f.low_src.convert(src);
  else f.src.set_data_handle(const_cast<float*>(src));
  f.dst.set_data_handle(dst);
  if (impl_->g.bias) f.b.set_data_handle(const_cast<float*>(b));
  f.prim.execute(dnnl_stream(), f.args);
  dnnl_stream().wait();
}

void ConvDnnl::backward_data(int n, int ih, int iw, const float* ddst, const float* w, float* dsrc) {
  if (impl_->g.ic < kSmallInChannels) {
    impl_->entry(n, ih, iw);  // validates the shape
    conv_bwd_data_small(impl_->g, n, ih, iw, ddst, w, dsrc, impl_->cols);
    return;
  }
  const Precision p = impl_->prec;
  BwdData& b = impl_->bwd_data(n, ih, iw, p);
  if (b.w.refresh(w, impl_->weights_generation(w))) ++impl_->reorders;
  if (p == Precision::kBf16) b.low_ddst.convert(ddst);
  else b.ddst.set_data_handle(const_cast<float*>(ddst));
  b.dsrc.set_data_handle(dsrc);
  b.prim.execute(dnnl_stream(), b.args);
  dnnl_stream().wait();
}

void ConvDnnl::backward_weights(int n, int ih, int iw, const float* src, const float* ddst, float* dw,
                                float* db) {
  BwdWeights& b = impl_->bwd_weights(n, ih, iw);
  b.src.set_data_handle(const_cast<float*>(src));
  b.ddst.set_data_handle(const_cast<float*>(ddst));
  b.user_dw.set_data_handle(dw);
  if (impl_->g.bias) {
    if (!db) throw std::invalid_argument("ConvDnnl::backward_weights: the bias gradient pointer is null");
    b.db.set_data_handle(db);
  }
  b.prim.execute(dnnl_stream(), b.args);
  if (b.needs_reorder) b.dw_to_user.execute(dnnl_stream(), b.dw, b.user_dw);
  dnnl_stream().wait();
}

void ConvDnnl::set_precision(Precision p) {
  if (p == impl_->prec) return;
  std::string why;
  if (p == Precision::kBf16 && !bf16_supported(&why)) throw std::runtime_error("BF16 convolution: " + why);
  impl_->prec = p;
}

Precision ConvDnnl::precision() const { return impl_->prec; }

bool ConvDnnl::bf16_supported(std::string* why) {
  // AVX-512 BF16 (Cooper Lake, Zen 4 and later) or AMX (Sapphire Rapids): native BF16 dot
  // products. Older AVX-512 CPUs emulate BF16 in oneDNN, slower than FP32: refused.
  const auto isa = unsigned(dnnl::get_effective_cpu_isa());
  const auto need = unsigned(dnnl::cpu_isa::avx512_core_bf16);
  if ((isa & need) == need) return true;
  if (why)
    *why = "this CPU has no native BF16 arithmetic (oneDNN's ISA here: 0x" + [isa] {
      char b[16];
      std::snprintf(b, sizeof b, "%x", isa);
      return std::string(b);
    }() + "; AVX-512 BF16 or AMX is needed)";
  return false;
}

std::string ConvDnnl::impl_info(int n, int ih, int iw) {
  const Precision p = impl_->prec;
  std::string bwd_data = impl_->g.ic < kSmallInChannels ? std::string("gemm+col2im:small_ic")
                                                         : impl_->bwd_data(n, ih, iw, p).pd.impl_info_str();
  return "fwd " + std::string(impl_->fwd(n, ih, iw, p).pd.impl_info_str()) + ", bwd_data " + bwd_data +
         ", bwd_weights " +
         impl_->bwd_weights(n, ih, iw).pd.impl_info_str();
}

long ConvDnnl::weight_reorders() const { return impl_->reorders; }

}  // namespace rampart::kernels::cpu
