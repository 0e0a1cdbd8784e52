// rampart: PGD adversarial training across MPI ranks and GPUs.
//   rampart train | eval | plan | data import  (see --help of each)
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "launch/commands.h"
#include "runtime/errors.h"

namespace {

const char* kUsage =
    "usage: rampart <command> [options]\n"
    "  train        PGD adversarial training (one rank, or many under mpirun / srun)\n"
    "  eval         clean and robust accuracy of a checkpoint (FGSM, PGD, restarts)\n"
    "  plan         the attack-budget plan for a budget and a price, without training\n"
    "  data import  convert a dataset (IDX: MNIST, Fashion-MNIST; CIFAR-10/100; SVHN; image folders) to HDF5\n"
    "Run 'rampart <command> --help' for the options of a command.\n"
    "Exit codes: 0 ok, 64 usage, 65 bad data, 66 missing input, 74 I/O error,\n"
    "75 stopped by a signal after a checkpoint (resume with --resume), 78 bad configuration, 1 other.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? rampart::kExitUsage : 0;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "train") return rampart::run_train(args);
    if (cmd == "eval") return rampart::run_eval(args);
    if (cmd == "plan") return rampart::run_plan(args);
    if (cmd == "data") return rampart::run_data(args);
    std::fprintf(stderr, "rampart: unknown command \"%s\"; expected train, eval, plan or data (rampart --help)\n",
                 cmd.c_str());
    return rampart::kExitUsage;
  } catch (const rampart::Error& e) {
    std::fprintf(stderr, "rampart %s: error: %s\n", cmd.c_str(), e.what());
    return e.code();
  } catch (const std::bad_alloc&) {
    const char* hint = cmd == "data" ? "the input is larger than this machine's memory, or its header claims more data "
                                       "than it holds"
                     : cmd == "plan" ? "lower --batch or --limit"
                                     : "lower --batch, or run more ranks on more nodes";
    std::fprintf(stderr, "rampart %s: error: out of memory (%s)\n", cmd.c_str(), hint);
    return rampart::kExitFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rampart %s: error: %s\n", cmd.c_str(), e.what());
    return rampart::kExitFailure;
  }
}
