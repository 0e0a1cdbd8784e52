// check_agreement(): names the fact, the ranks and their values; silent when all agree.
#include <gtest/gtest.h>

#include "cluster/comm/agreement.h"
#include "fake_communicator.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

using Facts = std::vector<std::pair<std::string, std::string>>;

TEST(Agreement, AllAgreeIsQuiet) {
  Facts f{{"parameter count", "421642"}, {"config hash", "ab12"}};
  EXPECT_EQ(agreement_error({f, f, f}), "");
  auto self = make_self_communicator();
  EXPECT_NO_THROW(check_agreement(*self, f));
  testing::FakeCommunicator four(4);
  EXPECT_NO_THROW(check_agreement(four, f));
}

TEST(Agreement, NamesTheFactRanksAndValues) {
  Facts a{{"model spec hash", "x"}, {"parameter count", "421642"}};
  Facts b{{"model spec hash", "x"}, {"parameter count", "421834"}};
  EXPECT_EQ(agreement_error({a, b}),
            "ranks disagree on \"parameter count\": rank 0 has 421642, rank 1 has 421834; "
            "start every rank with the same --config and model");
  EXPECT_EQ(agreement_error({a, a, a, b, a}),
            "ranks disagree on \"parameter count\": ranks 0-2,4 have 421642, rank 3 has 421834; "
            "start every rank with the same --config and model");
}

TEST(Agreement, MentionsOtherDifferingFacts) {
  Facts a{{"config hash", "1"}, {"parameter count", "10"}, {"dataset size", "60000"}};
  Facts b{{"config hash", "2"}, {"parameter count", "10"}, {"dataset size", "50000"}};
  std::string e = agreement_error({a, b});
  EXPECT_NE(e.find("ranks disagree on \"config hash\": rank 0 has 1, rank 1 has 2"), std::string::npos) << e;
  EXPECT_NE(e.find("also disagree on \"dataset size\""), std::string::npos) << e;
}

TEST(Agreement, DifferentListsOfFacts) {
  Facts a{{"config hash", "1"}};
  Facts b{{"config hash", "1"}, {"parameter count", "10"}};
  std::string e = agreement_error({a, b});
  EXPECT_NE(e.find("which facts"), std::string::npos) << e;
  EXPECT_NE(e.find("rank 0 has [\"config hash\"]"), std::string::npos) << e;
}

TEST(Agreement, CheckThrowsConfigErrorFromGatheredFacts) {
  testing::FakeCommunicator two(2);
  // Rank 1 reports a different value: replay rank 0's record with the value changed.
  two.gather_script = [](const std::string& mine) {
    std::string other = mine;
    other.back() = '9';
    return std::vector<std::string>{mine, other};
  };
  try {
    check_agreement(two, {{"parameter count", "421642"}});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "ranks disagree on \"parameter count\": rank 0 has 421642, rank 1 has 421649; "
              "start every rank with the same --config and model");
  }
  two.gather_script = [](const std::string& mine) { return std::vector<std::string>{mine, "junk"}; };
  EXPECT_THROW(check_agreement(two, {{"parameter count", "1"}}), ConfigError);
}

TEST(Agreement, LongValuesAreShortened) {
  std::string longa(200, 'a'), longb(200, 'b');
  std::string e = agreement_error({{{"spec", longa}}, {{"spec", longb}}});
  EXPECT_LT(e.size(), 300u);
  EXPECT_NE(e.find("..."), std::string::npos);
}

TEST(Agreement, FormatRanks) {
  EXPECT_EQ(format_ranks({0}), "0");
  EXPECT_EQ(format_ranks({0, 1}), "0,1");
  EXPECT_EQ(format_ranks({0, 1, 2, 5, 7, 8, 9}), "0-2,5,7-9");
}

}  // namespace
}  // namespace rampart
