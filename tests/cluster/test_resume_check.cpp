// check_resume_config(): what may change across --resume, what must not, and the messages.
#include <gtest/gtest.h>

#include "cluster/train/resume_check.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

const std::string kBase = "batch = 128\nepochs = 5\nlimit = 0\nlr = 0.05\nmodel = small-cnn\nout = runs/a\n"
                          "resume = false\nseed = 0\nthreads = 0\n";

std::string with(std::string text, const std::string& key, const std::string& value) {
  const auto at = text.find(key + " = ");
  const auto end = text.find('\n', at);
  return text.replace(at, end - at, key + " = " + value);
}

TEST(ResumeCheck, SameConfigIsQuiet) {
  EXPECT_TRUE(config_changes(kBase, kBase).empty());
  EXPECT_EQ(check_resume_config(kBase, kBase, "ck.h5"), "");
  // Settings nothing depends on may differ freely.
  EXPECT_EQ(check_resume_config(kBase, with(with(kBase, "resume", "true"), "threads", "4"), "ck.h5"), "");
}

TEST(ResumeCheck, OtherSettingsAreReportedNotRefused) {
  const std::string now = with(with(kBase, "lr", "0.01"), "epochs", "8");
  EXPECT_EQ(check_resume_config(kBase, now, "ck.h5"), "resuming with changed settings: epochs 5 -> 8, lr 0.05 -> 0.01");
}

TEST(ResumeCheck, DataOrderSettingsAreRefusedWithBothValues) {
  for (const char* key : {"batch", "limit", "seed", "model"}) {
    const std::string now = with(kBase, key, "64");
    try {
      check_resume_config(kBase, now, "runs/a/checkpoint.h5");
      ADD_FAILURE() << key << " changed but the resume was accepted";
    } catch (const ConfigError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("runs/a/checkpoint.h5 was written with other " + std::string(key) + " "), std::string::npos) << m;
      EXPECT_NE(m.find("-> 64"), std::string::npos) << m;
      EXPECT_NE(m.find("another --out"), std::string::npos) << m;
    }
  }
}

TEST(ResumeCheck, AKeyOnOneSideOnlyIsAChange) {
  const auto c = config_changes(kBase, kBase + "eps = 0.2\n");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].key, "eps");
  EXPECT_EQ(c[0].before, "(not set)");
  EXPECT_EQ(c[0].now, "0.2");
  EXPECT_FALSE(c[0].must_match);
  EXPECT_EQ(check_resume_config("", kBase, "old.h5"), "");  // an old checkpoint without a config
}

}  // namespace
}  // namespace rampart
