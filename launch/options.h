// Command-line and INI-config parsing shared by the subcommands.
// Flags and config keys have the same names; flags override the config file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace rampart {

namespace po = boost::program_options;

// Parses args (after the subcommand) with desc, then the --config file if the
// description has one and it was given. Throws UsageError (64) for unknown flags
// or bad values, MissingInput (66) for a missing config file, ConfigError (78)
// for an unknown key or bad value in it. Returns false when --help was asked.
bool parse_options(const std::string& command, const std::vector<std::string>& args,
                   const po::options_description& desc, po::variables_map& vm);

// The resolved configuration as "key = value" lines, sorted (stored in checkpoints).
std::string resolved_config(const po::variables_map& vm);

// Checked numbers, validated once where a configuration is built: ConfigError (78) naming the
// flag, the accepted range and what was found, for NaN, infinities and values out of range.
// lo_open / hi_open leave out the bound itself: (lo, hi], [lo, hi) or (lo, hi).
double checked_real(const po::variables_map& vm, const char* name, double lo, double hi, bool lo_open = false,
                    bool hi_open = false);
int64_t checked_int(const po::variables_map& vm, const char* name, int64_t lo, int64_t hi);
// Attack sizes (--steps, --eval-steps, --restarts, --eval-restarts): the lower bound (>= 1) is
// the attack's own check, which names the attack; this is the upper one, so that a typo such as
// --steps 1000000000 is refused instead of running for ever. ConfigError naming flag and bound.
constexpr int64_t kMaxAttackSteps = 10000, kMaxRestarts = 1000;
int checked_attack_size(const po::variables_map& vm, const char* name, int64_t hi);
// Seconds a collective may stall (--timeout): finite, > 0 and at most 30 days, so that it
// converts to the clock's nanoseconds without overflow.
double checked_timeout(const po::variables_map& vm);
constexpr int kMaxThreads = 1024;

// A seed (--seed): an unsigned 64-bit integer written in decimal. Boost's own uint64_t parser
// takes "-1" for 18446744073709551615; this type refuses a sign, so a negative seed is a usage
// error (64; 78 in a config file) instead of another seed. po::value<Seed>()->default_value(Seed{}, "0").
struct Seed {
  uint64_t value = 0;
};
void validate(boost::any& v, const std::vector<std::string>& values, Seed*, int);

// Throws UsageError "<command>: --<name> is required" unless the option is set.
void require(const po::variables_map& vm, const std::string& command, const std::string& name);

// Process-wide CPU set-up: OpenMP threads for this rank (cores available / ranks
// on the node unless OMP_NUM_THREADS is set), denormals flushed to zero, and a
// malloc that keeps large buffers instead of returning them to the kernel each step.
int setup_cpu(int local_size, int threads_flag);

}  // namespace rampart
