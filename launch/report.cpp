// Results for people and programs (see report.h).
#include "launch/report.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <fstream>

#include "runtime/errors.h"

namespace rampart {

void print_summary(const nlohmann::json& s, std::FILE* out) {
  auto pct = [&](const char* k) { return s.contains(k) ? 100.0 * s[k].get<double>() : -1.0; };
  if (s.contains("n")) {
    std::fprintf(out, "evaluated %lld test images\n", (long long)s["n"].get<int64_t>());
    std::fprintf(out, "  clean accuracy   %6.2f%%\n", pct("clean_accuracy"));
    // One line per attack the report has, in the order they run (AutoAttack's chain: the
    // accuracy after each attack, the last being AutoAttack's).
    static const char* const kLines[][2] = {
        {"fgsm_accuracy", "FGSM accuracy    "},    {"fgsm_rs_accuracy", "FGSM-RS accuracy "},
        {"pgd_accuracy", "PGD accuracy     "},     {"pgd_l2_accuracy", "PGD-L2 accuracy  "},
        {"apgd_dlr_accuracy", "APGD-DLR accuracy"}, {"apgd_ce_accuracy", "APGD-CE accuracy "},
        {"apgd_t_accuracy", "+ APGD-T         "},  {"fab_t_accuracy", "+ FAB-T          "},
        {"square_accuracy", "+ Square         "},  {"autoattack_accuracy", "AutoAttack       "}};
    const bool chain = s.contains("autoattack_accuracy");
    for (const auto& line : kLines) {
      if (!s.contains(line[0])) continue;
      std::string label = line[1];
      if (!chain && label[0] == '+') label = label.substr(2) + "  ";  // alone, not after APGD-CE
      std::fprintf(out, "  %s%6.2f%%\n", label.c_str(), pct(line[0]));
    }
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
