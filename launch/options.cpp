// Option parsing (see options.h).
#include "launch/options.h"

#include <cctype>
#include <cmath>
#include <cstdio>
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

namespace {
// Boost.Program_options 1.74 writes its messages by replacing placeholders such as %value% with
// the offending text; a value that holds a placeholder itself makes that replacement loop
// forever (found by fuzzing the config parser). No flag needs one: refuse them up front.
std::string placeholder_in(const std::string& text) {
  for (size_t a = text.find('%'); a != std::string::npos; a = text.find('%', a + 1)) {
    size_t b = a + 1;
    while (b < text.size() && (std::islower((unsigned char)text[b]) || text[b] == '_')) ++b;
    if (b > a + 1 && b < text.size() && text[b] == '%') return text.substr(a, b - a + 1);
  }
  return "";
}
}  // namespace

bool parse_options(const std::string& command, const std::vector<std::string>& args,
                   const po::options_description& desc, po::variables_map& vm) {
  for (const auto& a : args)
    if (const std::string p = placeholder_in(a); !p.empty())
      throw UsageError(command + ": the argument '" + a + "' holds '" + p + "', which the option parser cannot "
                       "handle; remove the % signs");
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
    if (!std::filesystem::is_regular_file(path))
      throw MissingInput(command + ": config file " + path + " is not a regular file (a directory?); give an INI file "
                         "of key = value lines, e.g. --config configs/fmnist-pgd.ini");
    std::ifstream file(path);
    if (!file) throw MissingInput(command + ": cannot read config file " + path);
    std::stringstream text;
    text << file.rdbuf();
    if (const std::string p = placeholder_in(text.str()); !p.empty())
      throw ConfigError(path + ": holds '" + p + "', which the option parser cannot handle; remove the % signs");
    std::istringstream in(text.str());
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

namespace {
std::string num(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}
}  // namespace

double checked_real(const po::variables_map& vm, const char* name, double lo, double hi, bool lo_open) {
  const double v = vm[name].as<double>();
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
  if (!ok)
    throw ConfigError(std::string("--") + name + " must be a number in " + (lo_open ? "(" : "[") + num(lo) + ", " +
                      num(hi) + "], found " + num(v));
  return v;
}

int64_t checked_int(const po::variables_map& vm, const char* name, int64_t lo, int64_t hi) {
  const auto& a = vm[name].value();
  int64_t v = 0;
  if (auto p = boost::any_cast<int>(&a)) v = *p;
  else v = boost::any_cast<int64_t>(a);
  if (v < lo || v > hi)
    throw ConfigError(std::string("--") + name + " must be an integer in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "], found " + std::to_string(v));
  return v;
}

double checked_timeout(const po::variables_map& vm) {
  return checked_real(vm, "timeout", 0, 30 * 24 * 3600.0, /*lo_open=*/true);
}

int setup_cpu(int local_size, int threads_flag) {
  if (threads_flag < 0 || threads_flag > kMaxThreads)
    throw ConfigError("--threads must be an integer in [0, " + std::to_string(kMaxThreads) + "] (0: cores / ranks), found " +
                      std::to_string(threads_flag));
  // Keep freed buffers in the process: glibc otherwise unmaps every large block
  // on free and the next step pays page faults for it again (PLATFORM.md).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  int threads = threads_flag;
  if (threads <= 0) {
    if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0) {
      threads = std::atoi(env);
      if (threads > kMaxThreads)
        throw ConfigError("OMP_NUM_THREADS=" + std::string(env) + " is more than " + std::to_string(kMaxThreads) +
                          " threads per rank; unset it or give --threads");
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
