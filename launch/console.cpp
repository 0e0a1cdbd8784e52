// Progress and metrics (see console.h).
#include "launch/console.h"

#include <unistd.h>

#include <chrono>
#include <cmath>

#include "runtime/errors.h"

namespace rampart {

LogLevel parse_log_level(const std::string& s) {
  if (s == "error") return LogLevel::kError;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "info") return LogLevel::kInfo;
  if (s == "debug") return LogLevel::kDebug;
  throw ConfigError("log-level: expected error, warn, info or debug, found \"" + s + "\"");
}

Console::Console(bool lead, LogLevel level, const std::string& metrics_path, bool append)
    : lead_(lead), level_(level), tty_(isatty(STDERR_FILENO)), metrics_path_(metrics_path) {
  if (lead_ && !metrics_path.empty()) {
    metrics_.open(metrics_path, append ? std::ios::app : std::ios::trunc);
    if (!metrics_) throw IoError("cannot write " + metrics_path + ": check that the --out folder is writable");
  }
}

void Console::metric(nlohmann::json j) {
  if (!metrics_.is_open()) return;
  using namespace std::chrono;
  j["time"] = duration<double>(system_clock::now().time_since_epoch()).count();
  metrics_ << j.dump() << '\n';
  metrics_.flush();
  // A metrics file that silently stops growing is a lost record: a failed write ends the run (74).
  if (!metrics_)
    throw IoError("writing " + metrics_path_ + " failed (disk full or the file system gone?); free space or use "
                  "another --out, then run again with --resume");
}

void Console::end_bar() {
  if (bar_open_) { std::fputc('\n', stderr); bar_open_ = false; }
}

void Console::on_start(const nlohmann::json& info) {
  metric({{"event", "start"}, {"info", info}});
  if (!lead_ || level_ < LogLevel::kInfo) return;
  std::fprintf(stderr, "rampart: training %s on %d rank%s (device %s): %lld images, %lld steps/epoch x %d epochs, "
               "attack %s (eps %.3g, %d steps)\n",
               info["model"].get<std::string>().c_str(), info["ranks"].get<int>(),
               info["ranks"].get<int>() > 1 ? "s" : "", info.value("device", std::string("cpu")).c_str(),
               (long long)info["train_images"].get<int64_t>(),
               (long long)info["batches_per_epoch"].get<int64_t>(), info["epochs"].get<int>(),
               info["attack"].get<std::string>().c_str(), info["eps"].get<double>(), info["attack_steps"].get<int>());
  const std::string scaling = info.value("lr_scaling", std::string("none"));
  if (scaling != "none")
    std::fprintf(stderr, "rampart: peak learning rate %.4g (--lr-scaling %s for a global batch of %lld)\n",
                 info.value("lr", 0.0), scaling.c_str(), (long long)info.value("batch", int64_t(0)));
  const std::string loss = info.value("loss", std::string("ce"));
  if (loss != "ce")
    std::fprintf(stderr, "rampart: loss %s (beta %.3g), the attack climbing %s with batchnorm in %s mode\n",
                 loss.c_str(), info.value("beta", 0.0), info.value("attack_objective", std::string("ce")).c_str(),
                 info.value("attack_bn", std::string("eval")).c_str());
}

void Console::on_step(const StepInfo& s) {
  metric({{"event", "step"}, {"epoch", s.epoch + 1}, {"step", s.step}, {"loss", s.loss},
          {"adv_accuracy", s.adv_accuracy}, {"lr", s.lr}, {"images_per_s", s.images_per_s},
          {"eps", s.eps}, {"attack_steps", s.attack_steps}});
  if (!lead_ || level_ < LogLevel::kInfo) return;
  if (tty_) {
    const int width = 30;
    int filled = int(width * double(s.batch_in_epoch) / double(std::max<int64_t>(1, s.batches_per_epoch)));
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\repoch %d [%s] %lld/%lld loss %.4f adv-acc %.3f lr %.4f %.0f img/s ", s.epoch + 1,
                 bar.c_str(), (long long)s.batch_in_epoch, (long long)s.batches_per_epoch, s.loss, s.adv_accuracy,
                 s.lr, s.images_per_s);
    std::fflush(stderr);
    bar_open_ = true;
  } else {
    std::fprintf(stderr, "epoch %d step %lld/%lld loss %.4f adv-acc %.3f lr %.5f %.0f img/s\n", s.epoch + 1,
                 (long long)s.step, (long long)s.steps_total, s.loss, s.adv_accuracy, s.lr, s.images_per_s);
  }
}

void Console::on_epoch(const nlohmann::json& e) {
  nlohmann::json m = e;
  m["event"] = "epoch";
  metric(m);
  if (!lead_ || level_ < LogLevel::kInfo) return;
  end_bar();
  std::fprintf(stderr, "epoch %d done: train loss %.4f, adversarial accuracy %.3f, %.1f s, %.0f img/s\n",
               e["epoch"].get<int>(), e["train_loss"].get<double>(), e["train_adv_accuracy"].get<double>(),
               e["seconds"].get<double>(), e["images_per_s"].get<double>());
}

void Console::on_eval(const nlohmann::json& r) {
  nlohmann::json m = r;
  m["event"] = "eval";
  metric(m);
  end_bar();
}

void Console::on_message(const std::string& line) {
  metric({{"event", "message"}, {"message", line}});
  if (!lead_ || level_ < LogLevel::kInfo) return;
  end_bar();
  std::fprintf(stderr, "rampart: %s\n", line.c_str());
}

}  // namespace rampart
