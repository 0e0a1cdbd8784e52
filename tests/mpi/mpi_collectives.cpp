// Multi-rank test of the communicator, the agreement check and the gradient
// reducer, with answers known without communicating (x * world_size).
// Run: mpirun -np N mpi_collectives   (or alone: a world of one, self communicator)
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>

#include "cluster/comm/agreement.h"
#include "cluster/comm/communicator_factory.h"
#include "cluster/comm/grad_reducer.h"
#include "cluster/comm/world.h"
#include "mpi_check.h"
#include "runtime/errors.h"

using namespace rampart;

namespace {

void test_world(const World& world, Communicator& comm) {
  if (world.launcher == "none") {
    MPI_CHECK(comm.backend() == "self", "a process without a launcher gets " << comm.backend());
  } else {
    MPI_CHECK(comm.backend() == "mpi", comm.backend());
  }
  MPI_CHECK(world.rank == comm.rank() && (world.size == comm.size() || world.size == 0), describe(world));
  MPI_CHECK(world.local_rank < world.local_size, describe(world));
}

void test_allreduce(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  // Same data on every rank: the sum is x * n exactly (small integers).
  std::vector<float> x(1000003);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 97) - 40.0f;
  comm.allreduce_sum(x.data(), int64_t(x.size()));
  for (size_t i = 0; i < x.size(); ++i)
    MPI_CHECK(x[i] == (float(i % 97) - 40.0f) * float(n), "at " << i << ": " << x[i]);
  // Rank-dependent data: sum of (r + 1) is n (n + 1) / 2.
  std::vector<double> y(17, double(r + 1));
  comm.allreduce_sum(y.data(), int64_t(y.size()));
  for (double v : y) MPI_CHECK(v == n * (n + 1) / 2.0, v);
  std::vector<double> m{double(r), -double(r)};
  comm.allreduce_max(m.data(), 2);
  MPI_CHECK(m[0] == n - 1 && m[1] == 0, m[0] << " " << m[1]);
}

void test_async(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  std::vector<std::vector<float>> bufs;
  for (int k = 0; k < 3; ++k) bufs.emplace_back(size_t(1000 * (k + 1) * (k + 1)), float(r + k));
  std::vector<std::unique_ptr<CommRequest>> reqs;
  for (auto& b : bufs) reqs.push_back(comm.allreduce_sum_async(b.data(), int64_t(b.size())));
  // Poll the first until done (progress happens inside test), wait for the rest.
  for (int spins = 0; !reqs[0]->test(); ++spins) MPI_CHECK(spins < 10000000, "request never completed");
  MPI_CHECK(reqs[0]->test(), "test() after completion");
  reqs[1]->wait();
  reqs[1]->wait();  // a second wait is harmless
  reqs[2].reset();  // destruction waits
  for (int k = 0; k < 3; ++k) {
    float expect = float(n * (n - 1) / 2 + n * k);
    for (float v : bufs[size_t(k)]) MPI_CHECK(v == expect, "buffer " << k << ": " << v << " != " << expect);
  }
}

void test_broadcast_gather(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  const int root = n - 1;
  std::vector<char> bytes(123457);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(r == root ? (i * 31 + 7) % 251 : 0);
  comm.broadcast(bytes.data(), int64_t(bytes.size()), root);
  for (size_t i = 0; i < bytes.size(); ++i) MPI_CHECK(bytes[i] == char((i * 31 + 7) % 251), "at " << i);
  comm.barrier();
  auto all = comm.allgather("rank-" + std::to_string(r) + std::string(size_t(r) * 3, 'x'));
  MPI_CHECK(int(all.size()) == n, all.size());
  for (int k = 0; k < n; ++k)
    MPI_CHECK(all[size_t(k)] == "rank-" + std::to_string(k) + std::string(size_t(k) * 3, 'x'), all[size_t(k)]);
  auto empty = comm.allgather("");
  MPI_CHECK(int(empty.size()) == n && empty[0].empty(), "empty strings");
}

void test_agreement(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  check_agreement(comm, {{"model spec hash", "9f2c"}, {"parameter count", "421642"}});  // all agree: no throw
  if (n < 2) return;
  std::string msg;
  try {
    check_agreement(comm, {{"model spec hash", "9f2c"}, {"parameter count", r == 1 ? "421834" : "421642"}});
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  std::string others = n == 2   ? "rank 0 has 421642"
                       : n == 3 ? "ranks 0,2 have 421642"
                       : n == 4 ? "ranks 0,2,3 have 421642"
                                : "ranks 0,2-" + std::to_string(n - 1) + " have 421642";
  std::string expect = "ranks disagree on \"parameter count\": " + others +
                       ", rank 1 has 421834; start every rank with the same --config and model";
  MPI_CHECK(msg == expect, "every rank must throw\n  got:      " << msg << "\n  expected: " << expect);
}

void test_grad_reducer(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  // A fake model: conv, relu, linear, relu, linear (5 layers, two without parameters).
  std::vector<std::pair<int64_t, int64_t>> ranges{{0, 50000}, {50000, 50000}, {50000, 250000},
                                                  {250000, 250000}, {250000, 250010}};
  std::vector<float> g(250010);
  for (int64_t bucket_bytes : {int64_t(64) << 10, int64_t(4) << 20}) {
    GradReducer red(comm, g.data(), ranges, bucket_bytes);
    for (int step = 0; step < 3; ++step) {
      for (size_t i = 0; i < g.size(); ++i) g[i] = float((r + 1) * int(i % 13 + step));
      red.begin_step();
      for (int l = 4; l >= 0; --l) {
        std::this_thread::sleep_for(std::chrono::microseconds(300));  // "backward" of layer l
        red.on_grad_ready(l);
      }
      red.finish(2.0f);
      const float ranks_sum = float(n * (n + 1) / 2);
      for (size_t i = 0; i < g.size(); ++i)
        MPI_CHECK(g[i] == 2.0f * ranks_sum * float(int(i % 13 + step)), "grad " << i << " = " << g[i]);
      auto s = red.last_stats();
      if (n > 1) MPI_CHECK(s.bytes == double(g.size()) * 4, s.bytes);
      if (r == 0 && step == 2)
        std::printf("grad reducer, %d buckets of <= %lld bytes: all-reduce %.3f ms, exposed %.3f ms\n", s.buckets,
                    (long long)bucket_bytes, s.allreduce_s_total * 1e3, s.exposed_wait_s * 1e3);
    }
    // Every rank holds the same bits.
    std::string mine(reinterpret_cast<const char*>(g.data()), g.size() * 4);
    auto all = comm.allgather(std::to_string(std::hash<std::string>{}(mine)));
    for (const auto& h : all) MPI_CHECK(h == all[0], "gradients differ between ranks");
  }
}

}  // namespace

int main() {
  try {
    World world = detect_world();
    auto comm = make_communicator(world, "auto", 30);
    mpitest::g_comm = comm.get();
    test_world(world, *comm);
    test_allreduce(*comm);
    test_async(*comm);
    test_broadcast_gather(*comm);
    test_agreement(*comm);
    test_grad_reducer(*comm);
    comm->barrier();
    std::printf("rank %d of %d (%s): %d checks passed\n", comm->rank(), comm->size(), comm->backend().c_str(),
                mpitest::g_checks);
    mpitest::g_comm = nullptr;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi_collectives: %s\n", e.what());
    if (mpitest::g_comm && mpitest::g_comm->size() > 1) mpitest::g_comm->abort(1);  // peers must not wait
    return 1;
  }
  return 0;
}
