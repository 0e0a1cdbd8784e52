// Results for people and programs (see report.h).
#include "launch/report.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "runtime/errors.h"

namespace rampart {

void print_summary(const nlohmann::json& s, std::FILE* out) {
  auto pct = [&](const char* k) { return s.contains(k) ? 100.0 * s[k].get<double>() : -1.0; };
  if (s.contains("n")) {
    std::fprintf(out, "evaluated %lld test images\n", (long long)s["n"].get<int64_t>());
    std::fprintf(out, "  clean accuracy   %6.2f%%\n", pct("clean_accuracy"));
    if (s.contains("fgsm_accuracy")) std::fprintf(out, "  FGSM accuracy    %6.2f%%\n", pct("fgsm_accuracy"));
    if (s.contains("fgsm_rs_accuracy")) std::fprintf(out, "  FGSM-RS accuracy %6.2f%%\n", pct("fgsm_rs_accuracy"));
    if (s.contains("pgd_accuracy")) std::fprintf(out, "  PGD accuracy     %6.2f%%\n", pct("pgd_accuracy"));
    if (s.contains("pgd_l2_accuracy")) std::fprintf(out, "  PGD-L2 accuracy  %6.2f%%\n", pct("pgd_l2_accuracy"));
  }
  if (s.contains("train_images_per_s"))
    std::fprintf(out, "training: %.0f adversarial training images/s on %d rank(s), %.1f s of %.1f s wall\n",
                 s["train_images_per_s"].get<double>(), s["ranks"].get<int>(), s["train_seconds"].get<double>(),
                 s["wall_seconds"].get<double>());
  if (s.contains("rank_hours"))
    std::fprintf(out, "cost: %.4f rank-hours (GPU-hours on GPUs)%s\n", s["rank_hours"].get<double>(),
                 s.contains("usd") ? (", $" + std::to_string(s["usd"].get<double>())).c_str() : "");
  if (s.contains("warning")) std::fprintf(out, "warning: %s\n", s["warning"].get<std::string>().c_str());
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream o(tmp);
    o << j.dump(2) << '\n';
    if (!o) throw IoError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError("cannot rename " + tmp + " to " + path);
  }
}

}  // namespace rampart
