// cuBLAS linear layer (row-major, PyTorch [out, in] weights) against host loops.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cuda/linear_cublas.h"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaLinearCublas, ForwardAndBackwardMatchHostLoops) {
  RAMPART_REQUIRE_GPU();
  CublasLinear lin;
  struct Dims { int n, in, out; };
  for (Dims d : {Dims{1, 1, 1}, Dims{3, 7, 5}, Dims{129, 6272, 10}, Dims{2, 33, 129}}) {
    SCOPED_TRACE("n=" + std::to_string(d.n) + " in=" + std::to_string(d.in) + " out=" +
                 std::to_string(d.out));
    const size_t nx = size_t(d.n) * d.in, nw = size_t(d.out) * d.in, ny = size_t(d.n) * d.out;
    auto x = test::uniform(nx, -1.f, 1.f, 1), w = test::uniform(nw, -1.f, 1.f, 2);
    auto b = test::uniform(size_t(d.out), -1.f, 1.f, 3), dy = test::uniform(ny, -1.f, 1.f, 4);
    auto dw0 = test::uniform(nw, -1.f, 1.f, 5), db0 = test::uniform(size_t(d.out), -1.f, 1.f, 6);
    std::vector<float> y(ny), dx(nx), dw(nw), db(size_t(d.out)), dwa(nw), dba(size_t(d.out));
    for (int i = 0; i < d.n; ++i)
      for (int o = 0; o < d.out; ++o) {
        double s = b[size_t(o)];
        for (int k = 0; k < d.in; ++k) s += double(x[size_t(i) * d.in + k]) * w[size_t(o) * d.in + k];
        y[size_t(i) * d.out + o] = float(s);
      }
    for (int i = 0; i < d.n; ++i)
      for (int k = 0; k < d.in; ++k) {
        double s = 0;
        for (int o = 0; o < d.out; ++o) s += double(dy[size_t(i) * d.out + o]) * w[size_t(o) * d.in + k];
        dx[size_t(i) * d.in + k] = float(s);
      }
    for (int o = 0; o < d.out; ++o) {
      double sb = 0;
      for (int i = 0; i < d.n; ++i) sb += dy[size_t(i) * d.out + o];
      db[size_t(o)] = float(sb);
      dba[size_t(o)] = float(sb + db0[size_t(o)]);
      for (int k = 0; k < d.in; ++k) {
        double s = 0;
        for (int i = 0; i < d.n; ++i) s += double(dy[size_t(i) * d.out + o]) * x[size_t(i) * d.in + k];
        dw[size_t(o) * d.in + k] = float(s);
        dwa[size_t(o) * d.in + k] = float(s + dw0[size_t(o) * d.in + k]);
      }
    }
    DeviceBuffer<float> x_(nx), w_(nw), b_(size_t(d.out)), y_(ny), dy_(ny), dx_(nx), dw_(nw),
        db_(size_t(d.out)), dwa_(nw), dba_(size_t(d.out));
    x_.upload(x);
    w_.upload(w);
    b_.upload(b);
    dy_.upload(dy);
    dwa_.upload(dw0);
    dba_.upload(db0);
    lin.forward(x_.get(), w_.get(), b_.get(), y_.get(), d.n, d.in, d.out, nullptr);
    lin.backward_data(dy_.get(), w_.get(), dx_.get(), d.n, d.in, d.out, nullptr);
    lin.backward_weights(x_.get(), dy_.get(), dw_.get(), db_.get(), d.n, d.in, d.out, false, nullptr);
    lin.backward_weights(x_.get(), dy_.get(), dwa_.get(), dba_.get(), d.n, d.in, d.out, true, nullptr);
    test::sync();
    test::expect_near(y_.download(ny), y, 1e-3f, 1e-4f, "y");
    test::expect_near(dx_.download(nx), dx, 1e-3f, 1e-4f, "dx");
    test::expect_near(dw_.download(nw), dw, 1e-3f, 1e-4f, "dw");
    test::expect_near(db_.download(size_t(d.out)), db, 1e-3f, 1e-4f, "db");
    test::expect_near(dwa_.download(nw), dwa, 1e-3f, 1e-4f, "dw accumulated");
    test::expect_near(dba_.download(size_t(d.out)), dba, 1e-3f, 1e-4f, "db accumulated");
    // accumulate = true adds to what was there; false overwrites it (dw0 is not zero).
    EXPECT_NE(dwa_.download(1)[0], dw_.download(1)[0]);
    EXPECT_NEAR(dwa_.download(1)[0] - dw_.download(1)[0], dw0[0], 1e-3f);
  }
}

}  // namespace
}  // namespace rampart::cuda
