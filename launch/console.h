// What rank 0 shows while training: a progress bar on a terminal, plain lines
// otherwise, and metrics.jsonl (one JSON object a line) in the output folder.
#pragma once
#include <cstdio>
#include <fstream>
#include <string>

#include "cluster/train/trainer.h"

namespace rampart {

enum class LogLevel { kError, kWarn, kInfo, kDebug };
LogLevel parse_log_level(const std::string& s);

class Console : public TrainObserver {
 public:
  // quiet: rank other than 0 (prints only warnings and errors at --log-level).
  Console(bool lead, LogLevel level, const std::string& metrics_path, bool append);
  void on_start(const nlohmann::json& info) override;
  void on_step(const StepInfo& s) override;
  void on_epoch(const nlohmann::json& e) override;
  void on_eval(const nlohmann::json& r) override;
  void on_message(const std::string& line) override;
  void metric(nlohmann::json j);  // adds "time" and writes a line to metrics.jsonl

 private:
  void end_bar();
  bool lead_;
  LogLevel level_;
  bool tty_;
  bool bar_open_ = false;
  std::ofstream metrics_;
  std::string metrics_path_;
};

}  // namespace rampart
