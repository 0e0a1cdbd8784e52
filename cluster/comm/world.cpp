// Reads rank, size and local rank from the launcher's environment variables.
#include "cluster/comm/world.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>
#include <vector>

#include "runtime/errors.h"

extern char** environ;

namespace rampart {
namespace {

using Env = std::map<std::string, std::string>;

std::optional<std::string> get(const Env& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

// A non-negative decimal integer that fits an int, or ConfigError naming the variable.
int parse_count(const std::string& name, const std::string& value) {
  std::string s = value;
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  bool ok = !s.empty() && s.size() <= 10;
  for (char c : s) ok = ok && c >= '0' && c <= '9';
  long long v = ok ? std::atoll(s.c_str()) : -1;
  if (!ok || v > INT_MAX)
    throw ConfigError("environment variable " + name + "=\"" + value +
                      "\" is not a non-negative integer; the launcher (mpirun, srun) sets it, so unset it "
                      "if this process was not started by one");
  return int(v);
}

int required(const Env& env, const std::string& name, const std::string& launcher, const std::string& because) {
  auto v = get(env, name);
  if (!v)
    throw ConfigError(because + " is set but " + name + " is not; a " + launcher +
                      " launch sets both, so the environment is incomplete or stale");
  return parse_count(name, *v);
}

// Slurm's compressed task counts per node, e.g. "2(x3),1" -> {2,2,2,1}.
std::vector<int> parse_tasks_per_node(const std::string& name, const std::string& value) {
  std::vector<int> out;
  size_t pos = 0;
  auto bad = [&] {
    return ConfigError("environment variable " + name + "=\"" + value +
                       "\" is not a Slurm task list such as \"2(x3),1\"");
  };
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    std::string item = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    int reps = 1;
    size_t paren = item.find('(');
    if (paren != std::string::npos) {
      if (item.size() < paren + 4 || item.compare(paren, 2, "(x") != 0 || item.back() != ')') throw bad();
      reps = parse_count(name, item.substr(paren + 2, item.size() - paren - 3));
      item = item.substr(0, paren);
    }
    if (item.empty() || reps < 1) throw bad();
    int count = parse_count(name, item);
    if (out.size() + size_t(reps) > 1000000) throw bad();
    out.insert(out.end(), size_t(reps), count);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

int slurm_local_size(const Env& env, int size) {
  // The step's own list first (srun inside a larger allocation), then the job's.
  for (const char* name : {"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"}) {
    auto v = get(env, name);
    if (!v) continue;
    std::vector<int> per_node = parse_tasks_per_node(name, *v);
    int node = 0;
    if (auto n = get(env, "SLURM_NODEID")) node = parse_count("SLURM_NODEID", *n);
    if (node >= int(per_node.size()))
      throw ConfigError("SLURM_NODEID=" + std::to_string(node) + " but " + name + "=\"" + *v + "\" lists only " +
                        std::to_string(per_node.size()) + " node(s)");
    return per_node[size_t(node)];
  }
  if (auto v = get(env, "SLURM_NTASKS_PER_NODE")) return parse_count("SLURM_NTASKS_PER_NODE", *v);
  return size;  // unknown: assume one node
}

void validate(const World& w, const std::string& vars) {
  auto fail = [&](const std::string& what) {
    throw ConfigError("inconsistent " + w.launcher + " environment (" + vars + "): " + what);
  };
  if (w.size < 0) fail("negative size");
  if (w.size == 0 && w.launcher != "pmix") fail("world size is 0");
  if (w.size > 0 && w.rank >= w.size)
    fail("rank " + std::to_string(w.rank) + " is not below the world size " + std::to_string(w.size));
  if (w.local_size < 1) fail("local size is " + std::to_string(w.local_size));
  if (w.local_rank >= w.local_size)
    fail("local rank " + std::to_string(w.local_rank) + " is not below the local size " +
         std::to_string(w.local_size));
  if (w.size > 0 && w.local_size > w.size)
    fail("local size " + std::to_string(w.local_size) + " exceeds the world size " + std::to_string(w.size));
}

}  // namespace

World detect_world(const Env& env) {
  World w;
  if (get(env, "OMPI_COMM_WORLD_RANK") || get(env, "OMPI_COMM_WORLD_SIZE")) {
    const std::string because = "OMPI_COMM_WORLD_RANK or _SIZE";
    w.launcher = "openmpi";
    w.rank = required(env, "OMPI_COMM_WORLD_RANK", "mpirun", because);
    w.size = required(env, "OMPI_COMM_WORLD_SIZE", "mpirun", because);
    auto lr = get(env, "OMPI_COMM_WORLD_LOCAL_RANK");
    auto ls = get(env, "OMPI_COMM_WORLD_LOCAL_SIZE");
    w.local_rank = lr ? parse_count("OMPI_COMM_WORLD_LOCAL_RANK", *lr) : w.rank;
    w.local_size = ls ? parse_count("OMPI_COMM_WORLD_LOCAL_SIZE", *ls) : w.size;
    validate(w, "OMPI_COMM_WORLD_*");
    return w;
  }
  // Slurm exports SLURM_PROCID to the batch script too; only a task started by
  // srun (which has SLURM_STEP_ID) is a rank. A tool run directly in the batch
  // script is a world of one.
  if (get(env, "SLURM_PROCID") && get(env, "SLURM_STEP_ID")) {
    const std::string because = "SLURM_PROCID";
    w.launcher = "slurm";
    w.rank = parse_count("SLURM_PROCID", *get(env, "SLURM_PROCID"));
    if (auto st = get(env, "SLURM_STEP_NUM_TASKS"))
      w.size = parse_count("SLURM_STEP_NUM_TASKS", *st);
    else
      w.size = required(env, "SLURM_NTASKS", "srun", because);
    w.local_rank = required(env, "SLURM_LOCALID", "srun", because);
    w.local_size = slurm_local_size(env, w.size);
    validate(w, "SLURM_*");
    return w;
  }
  if (get(env, "PMI_RANK") || get(env, "PMI_SIZE")) {
    const std::string because = "PMI_RANK or PMI_SIZE";
    w.launcher = "pmi";
    w.rank = required(env, "PMI_RANK", "PMI", because);
    w.size = required(env, "PMI_SIZE", "PMI", because);
    auto lr = get(env, "MPI_LOCALRANKID");  // MPICH's hydra
    auto ls = get(env, "MPI_LOCALNRANKS");
    w.local_rank = lr ? parse_count("MPI_LOCALRANKID", *lr) : w.rank;
    w.local_size = ls ? parse_count("MPI_LOCALNRANKS", *ls) : w.size;
    validate(w, "PMI_*");
    return w;
  }
  if (auto r = get(env, "PMIX_RANK")) {
    w.launcher = "pmix";
    w.rank = parse_count("PMIX_RANK", *r);
    w.size = 0;  // PMIx does not export the size; MPI knows it
    w.local_rank = 0;
    w.local_size = 1;
    validate(w, "PMIX_RANK");
    return w;
  }
  return w;
}

World detect_world() {
  Env env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string key = kv.substr(0, eq);
    if (key.rfind("OMPI_COMM_WORLD_", 0) == 0 || key.rfind("SLURM_", 0) == 0 || key.rfind("PMI", 0) == 0 ||
        key.rfind("MPI_LOCAL", 0) == 0)
      env[key] = kv.substr(eq + 1);
  }
  return detect_world(env);
}

std::string describe(const World& w) {
  std::string size = w.size > 0 ? std::to_string(w.size) : "?";
  return "rank " + std::to_string(w.rank) + " of " + size + " (" + w.launcher + ", local " +
         std::to_string(w.local_rank) + " of " + std::to_string(w.local_size) + ")";
}

}  // namespace rampart
