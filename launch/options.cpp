// Option parsing (see options.h).
#include "launch/options.h"

#include <malloc.h>
#include <omp.h>
#include <pmmintrin.h>
#include <sched.h>
#include <xmmintrin.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "runtime/errors.h"

namespace rampart {

bool parse_options(const std::string& command, const std::vector<std::string>& args,
                   const po::options_description& desc, po::variables_map& vm) {
  try {
    // No guessing of abbreviations: --epoch must not silently mean --epochs.
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(desc).style(style).run(), vm);
  } catch (const po::error& e) {
    throw UsageError(command + ": " + e.what() + " (see rampart " + command + " --help)");
  }
  if (vm.count("help")) return false;
  if (desc.find_nothrow("config", false) && vm.count("config")) {
    std::string path = vm["config"].as<std::string>();
    if (!std::filesystem::exists(path))
      throw MissingInput(command + ": config file " + path + " does not exist");
    std::ifstream in(path);
    if (!in) throw MissingInput(command + ": cannot read config file " + path);
    try {
      po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/false), vm);
    } catch (const po::error& e) {
      throw ConfigError(path + ": " + e.what() + " (keys are the flag names of rampart " + command +
                        " --help, without the dashes)");
    }
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(command + ": " + e.what());
  }
  return true;
}

std::string resolved_config(const po::variables_map& vm) {
  std::vector<std::string> lines;
  for (auto& [key, v] : vm) {
    if (key == "help" || key == "config") continue;
    const auto& a = v.value();
    std::ostringstream os;
    os << key << " = ";
    if (auto p = boost::any_cast<std::string>(&a)) os << *p;
    else if (auto p = boost::any_cast<int>(&a)) os << *p;
    else if (auto p = boost::any_cast<int64_t>(&a)) os << *p;
    else if (auto p = boost::any_cast<double>(&a)) os << *p;
    else if (auto p = boost::any_cast<float>(&a)) os << *p;
    else if (auto p = boost::any_cast<bool>(&a)) os << (*p ? "true" : "false");
    else if (auto p = boost::any_cast<uint64_t>(&a)) os << *p;
    else continue;
    lines.push_back(os.str());
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (auto& l : lines) out += l + "\n";
  return out;
}

void require(const po::variables_map& vm, const std::string& command, const std::string& name) {
  if (!vm.count(name)) throw UsageError(command + ": --" + name + " is required (see rampart " + command + " --help)");
}

int setup_cpu(int local_size, int threads_flag) {
  // Keep freed buffers in the process: glibc otherwise unmaps every large block
  // on free and the next step pays page faults for it again (PLATFORM.md).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  int threads = threads_flag;
  if (threads <= 0) {
    if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0) {
      threads = std::atoi(env);
    } else {
      cpu_set_t set;
      int avail = int(std::thread::hardware_concurrency());
      if (sched_getaffinity(0, sizeof set, &set) == 0) avail = CPU_COUNT(&set);
      // A launcher that binds each rank to its cores already divided them.
      bool bound = avail < int(std::thread::hardware_concurrency());
      threads = bound ? avail : std::max(1, avail / std::max(1, local_size));
    }
  }
  omp_set_num_threads(threads);
  // Denormals cost ~10% in the attack's backward passes; flush them in every thread.
#pragma omp parallel
  {
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
  }
  return threads;
}

}  // namespace rampart
