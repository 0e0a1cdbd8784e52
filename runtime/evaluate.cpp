// Clean and robust evaluation (see evaluate.h).
#include "runtime/evaluate.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "runtime/attacks/search_attacks.h"
#include "runtime/objectives/objective.h"

namespace rampart {

std::vector<double> EvalCounts::pack() const {
  std::vector<double> v = {double(n), double(clean_correct), clean_loss_sum};
  for (auto r : robust_correct) v.push_back(double(r));
  return v;
}

void EvalCounts::unpack(const std::vector<double>& v) {
  n = int64_t(v[0]);
  clean_correct = int64_t(v[1]);
  clean_loss_sum = v[2];
  robust_correct.resize(v.size() - 3);
  for (size_t i = 3; i < v.size(); ++i) robust_correct[i - 3] = int64_t(v[i]);
}

Evaluator::Evaluator(std::vector<AttackConfig> attacks, uint64_t seed)
    : attacks_(std::move(attacks)), seed_(seed), score_(make_objective("ce")) {
  for (auto& a : attacks_) {
    a.keep_best = true;
    a.bn_batch_stats = false;  // evaluation never touches the running statistics
  }
  counts_.robust_correct.assign(attacks_.size(), 0);
}

void Evaluator::add(Model& model, const Tensor& x_in, const int32_t* labels_in, int64_t first_example) {
  const int64_t n = x_in.dim(0);
  if (n == 0) return;
  const Device d = model.device();
  const Tensor* xp = &x_in;
  const int32_t* labels = labels_in;
  if (x_in.device() != d) {  // a host batch for a model on a GPU
    x_dev_.set_device(d);
    x_dev_.copy_from(x_in);
    xp = &x_dev_;
    labels_dev_.set_device(d);
    labels_dev_.resize(n);
    kernels::copy_bytes(d, labels_dev_.data(), Device::kCpu, labels_in, sizeof(int32_t) * size_t(n));
    labels = labels_dev_.data();
  }
  const Tensor& x = *xp;
  for (Tensor* t : {&x_adv_, &loss_}) t->set_device(d);
  clean_ok_.set_device(d);
  adv_ok_.set_device(d);
  const Tensor& logits = model.forward(x, Mode::kEval);
  clean_ok_.resize(n);
  loss_.resize({n});
  LossOutput clean{0.f, nullptr, nullptr, loss_.data(), clean_ok_.data()};
  const ObjectiveTotals tot = score_->evaluate({logits.data(), labels, n, logits.dim(1), nullptr, d}, clean);
  const uint8_t* clean_ok = clean_ok_.data();
  if (d != Device::kCpu) {
    clean_host_.resize(n);
    kernels::copy_bytes(Device::kCpu, clean_host_.data(), d, clean_ok_.data(), size_t(n));
    clean_ok = clean_host_.data();
  }
  counts_.n += n;
  counts_.clean_correct += tot.correct;
  counts_.clean_loss_sum += tot.loss_sum;
  const size_t kept = examples_.index.size();
  if (keep_) {
    const int64_t k = logits.dim(1);
    examples_.classes = k;
    examples_.robust_correct.resize(attacks_.size());
    for (int64_t e = 0; e < n; ++e) examples_.index.push_back(first_example + e);
    examples_.logits.resize(examples_.logits.size() + size_t(n * k));
    kernels::copy_bytes(Device::kCpu, examples_.logits.data() + kept * size_t(k), d, logits.data(),
                        sizeof(float) * size_t(n * k));
    examples_.clean_correct.insert(examples_.clean_correct.end(), clean_ok, clean_ok + n);
  }
  // Robust to every attack so far: AutoAttack's chained attacks run only on these.
  std::vector<uint8_t> chain(clean_ok, clean_ok + n), robust(static_cast<size_t>(n));
  for (size_t a = 0; a < attacks_.size(); ++a) {
    const AttackConfig& cfg = attacks_[a];
    if (cfg.method == Method::kPgd) {
      RandomKey key{seed_, Stream::kEvalStart, uint64_t(a), first_example};
      attacker_.run(model, x, labels, cfg, key, x_adv_);
      const Tensor& la = model.forward(x_adv_, Mode::kEval);
      adv_ok_.resize(n);
      LossOutput adv{0.f, nullptr, nullptr, loss_.data(), adv_ok_.data()};
      score_->evaluate({la.data(), labels, n, la.dim(1), nullptr, d}, adv);
      const uint8_t* adv_ok = adv_ok_.data();
      if (d != Device::kCpu) {
        adv_host_.resize(n);
        kernels::copy_bytes(Device::kCpu, adv_host_.data(), d, adv_ok_.data(), size_t(n));
        adv_ok = adv_host_.data();
      }
      for (int64_t e = 0; e < n; ++e) robust[size_t(e)] = clean_ok[e] && adv_ok[e];
    } else {
      search(model, x, labels, first_example, cfg, cfg.chained ? chain.data() : clean_ok, robust);
    }
    chain = robust;
    for (int64_t e = 0; e < n; ++e) counts_.robust_correct[a] += robust[size_t(e)];
    if (keep_) examples_.robust_correct[a].insert(examples_.robust_correct[a].end(), robust.begin(), robust.end());
  }
}

// A search attack on the rows with candidate[e] != 0 (gathered into one batch; the model is on
// the CPU, run_search_attack checks): robust[e] = candidate[e] and not fooled.
void Evaluator::search(Model& model, const Tensor& x, const int32_t* labels, int64_t first_example,
                       const AttackConfig& cfg, const uint8_t* candidate, std::vector<uint8_t>& robust) {
  const int64_t n = x.dim(0), dim = x.size() / n;
  std::vector<int64_t> rows, index;
  std::vector<int32_t> y;
  for (int64_t e = 0; e < n; ++e) {
    robust[size_t(e)] = 0;
    if (!candidate[e]) continue;
    rows.push_back(e);
    index.push_back(first_example + e);
    y.push_back(labels[e]);
  }
  if (rows.empty()) return;
  Shape s = x.shape();
  s[0] = int64_t(rows.size());
  x_search_.resize(s);
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(x_search_.data() + int64_t(i) * dim, x.data() + rows[i] * dim, sizeof(float) * size_t(dim));
  const SearchResult r = run_search_attack(model, {&x_search_, y.data(), index.data()}, cfg, seed_);
  for (size_t i = 0; i < rows.size(); ++i) robust[size_t(rows[i])] = !r.fooled[i];
}

namespace {
template <class T> void put(std::string& s, const std::vector<T>& v) {
  const int64_t n = int64_t(v.size());
  s.append(reinterpret_cast<const char*>(&n), sizeof n);
  s.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
template <class T> void take(const std::string& s, size_t& pos, std::vector<T>& out) {
  int64_t n = 0;
  if (pos + sizeof n > s.size()) throw std::runtime_error("ExampleResults::merge: truncated bytes");
  std::memcpy(&n, s.data() + pos, sizeof n);
  pos += sizeof n;
  if (n < 0 || pos + size_t(n) * sizeof(T) > s.size()) throw std::runtime_error("ExampleResults::merge: truncated bytes");
  const size_t old = out.size();
  out.resize(old + size_t(n));
  std::memcpy(out.data() + old, s.data() + pos, size_t(n) * sizeof(T));
  pos += size_t(n) * sizeof(T);
}
}  // namespace

std::string ExampleResults::serialize() const {
  std::string s;
  put(s, std::vector<int64_t>{classes, int64_t(robust_correct.size())});
  put(s, index);
  put(s, logits);
  put(s, clean_correct);
  for (const auto& r : robust_correct) put(s, r);
  return s;
}

void ExampleResults::merge(const std::string& bytes) {
  size_t pos = 0;
  std::vector<int64_t> head;
  take(bytes, pos, head);
  if (head.size() != 2) throw std::runtime_error("ExampleResults::merge: bad header");
  if (head[0] > 0) classes = head[0];
  robust_correct.resize(std::max(robust_correct.size(), size_t(head[1])));
  take(bytes, pos, index);
  take(bytes, pos, logits);
  take(bytes, pos, clean_correct);
  for (int64_t a = 0; a < head[1]; ++a) take(bytes, pos, robust_correct[size_t(a)]);
}

void ExampleResults::sort_by_index() {
  const size_t n = index.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return index[a] < index[b]; });
  ExampleResults s;
  s.classes = classes;
  s.robust_correct.resize(robust_correct.size());
  for (size_t i : order) {
    s.index.push_back(index[i]);
    s.logits.insert(s.logits.end(), logits.begin() + i * size_t(classes), logits.begin() + (i + 1) * size_t(classes));
    s.clean_correct.push_back(clean_correct[i]);
    for (size_t a = 0; a < robust_correct.size(); ++a) s.robust_correct[a].push_back(robust_correct[a][i]);
  }
  *this = std::move(s);
}

std::string masking_warning(double fgsm_acc, double pgd_acc) {
  char buf[320];
  if (fgsm_acc - pgd_acc > 0.15) {
    std::snprintf(buf, sizeof buf,
                  "FGSM accuracy (%.1f%%) is far above PGD accuracy (%.1f%%): the model may mask gradients "
                  "or have overfitted catastrophically to single-step attacks; trust the PGD figure, and "
                  "check it with more steps and restarts",
                  100 * fgsm_acc, 100 * pgd_acc);
    return buf;
  }
  if (pgd_acc > fgsm_acc + 0.01) {
    std::snprintf(buf, sizeof buf,
                  "PGD accuracy (%.1f%%) is above FGSM accuracy (%.1f%%): the multi-step attack is weaker than "
                  "the single step, a sign of gradient masking or a too small step size",
                  100 * pgd_acc, 100 * fgsm_acc);
    return buf;
  }
  return "";
}

nlohmann::json eval_report(const EvalCounts& c, const std::vector<AttackConfig>& attacks) {
  nlohmann::json j;
  double n = c.n > 0 ? double(c.n) : 1.0;
  j["n"] = c.n;
  j["clean_accuracy"] = c.clean_correct / n;
  j["clean_loss"] = c.clean_loss_sum / n;
  double fgsm = -1, pgd = -1;
  for (size_t a = 0; a < attacks.size(); ++a) {
    double acc = c.robust_correct[a] / n;
    std::string key = attacks[a].name;
    for (auto& ch : key) if (ch == '-') ch = '_';
    j[key + "_accuracy"] = acc;
    if (attacks[a].name == "fgsm") fgsm = acc;
    if (attacks[a].name == "pgd") pgd = acc;
  }
  if (!attacks.empty()) j["robust_accuracy"] = c.robust_correct.back() / n;
  // AutoAttack's chain: robust to all four attacks is the last entry's count.
  if (attacks.size() > 1 && attacks.back().chained) j["autoattack_accuracy"] = c.robust_correct.back() / n;
  if (fgsm >= 0 && pgd >= 0) {
    std::string w = masking_warning(fgsm, pgd);
    if (!w.empty()) j["warning"] = w;
  }
  return j;
}

}  // namespace rampart
