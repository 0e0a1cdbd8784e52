// Option parsing (see options.h).
#include "launch/options.h"

#include <cctype>
#include <cerrno>
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
#include <set>
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
    const po::parsed_options parsed = po::command_line_parser(args).options(desc).style(style).run();
    // Without positional options Boost keeps a stray word (a value whose flag was dropped, a
    // path after a missing --data) as an unnamed option and store() ignores it: refuse it.
    for (const auto& o : parsed.options)
      if (o.string_key.empty() || o.position_key >= 0)
        throw UsageError(command + ": unexpected argument '" + (o.original_tokens.empty() ? "" : o.original_tokens[0]) +
                         "'; every value follows its flag, e.g. --data train.h5 (see rampart " + command + " --help)");
    po::store(parsed, vm);
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
    // A binary file (a checkpoint or dataset given as --config): say so, instead of quoting its
    // bytes in the parser's message.
    const std::string t = text.str();
    for (size_t i = 0; i < t.size(); ++i)
      if (const unsigned char ch = (unsigned char)t[i]; ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t')
        throw ConfigError(path + ": holds control byte " + std::to_string(int(ch)) + " at offset " + std::to_string(i) +
                          "; expected a text file of key = value lines (not an HDF5 or other binary file)");
    if (const std::string p = placeholder_in(t); !p.empty())
      throw ConfigError(path + ": holds '" + p + "', which the option parser cannot handle; remove the % signs");
    std::istringstream in(t);
    try {
      const po::parsed_options parsed = po::parse_config_file(in, desc, /*allow_unregistered=*/false);
      std::set<std::string> seen;
      for (const auto& o : parsed.options) {
        // --help and --config are not settings: a config file naming them would be ignored.
        if (o.string_key == "help" || o.string_key == "config")
          throw ConfigError(path + ": key '" + o.string_key + "' is a command-line flag only, not a setting; remove it");
        // A key given twice is refused even where a flag overrides it (store() would skip both).
        if (!seen.insert(o.string_key).second)
          throw ConfigError(path + ": key '" + o.string_key + "' is given more than once; keep one line for it");
      }
      po::store(parsed, vm);
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
    else if (auto p = boost::any_cast<Seed>(&a)) os << p->value;
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

double checked_real(const po::variables_map& vm, const char* name, double lo, double hi, bool lo_open, bool hi_open) {
  const double v = vm[name].as<double>();
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (!ok)
    throw ConfigError(std::string("--") + name + " must be a number in " + (lo_open ? "(" : "[") + num(lo) + ", " +
                      num(hi) + (hi_open ? ")" : "]") + ", found " + num(v));
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

int checked_attack_size(const po::variables_map& vm, const char* name, int64_t hi) {
  const int v = vm[name].as<int>();
  if (v > hi)  // the same words as checked_int: values below 1 fail the attack's check, naming it
    throw ConfigError(std::string("--") + name + " must be an integer in [1, " + std::to_string(hi) + "], found " +
                      std::to_string(v) + "; give e.g. --" + name +
                      (std::string(name).find("restarts") != std::string::npos ? " 1" : " 20"));
  return v;
}

void validate(boost::any& v, const std::vector<std::string>& values, Seed*, int) {
  po::validators::check_first_occurrence(v);
  const std::string& s = po::validators::get_single_string(values);
  errno = 0;
  char* end = nullptr;
  const unsigned long long x = s.empty() ? 0 : std::strtoull(s.c_str(), &end, 10);
  const bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (!digits || errno == ERANGE || *end != '\0')
    throw po::error_with_option_name("the argument ('" + s + "') for option '%canonical_option%' is invalid: expected "
                                     "a seed, an integer in [0, 18446744073709551615]");
  v = boost::any(Seed{uint64_t(x)});
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
