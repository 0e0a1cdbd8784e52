// detect_world(): rank, size and local rank from launcher variables; garbage is a ConfigError.
#include <gtest/gtest.h>

#include "cluster/comm/world.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

using Env = std::map<std::string, std::string>;

TEST(World, NoLauncherIsAWorldOfOne) {
  World w = detect_world(Env{{"HOME", "/root"}});
  EXPECT_EQ(w.rank, 0);
  EXPECT_EQ(w.size, 1);
  EXPECT_EQ(w.local_rank, 0);
  EXPECT_EQ(w.local_size, 1);
  EXPECT_EQ(w.launcher, "none");
}

TEST(World, OpenMpi) {
  World w = detect_world(Env{{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "8"},
                             {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                             {"PMIX_RANK", "3"}});
  EXPECT_EQ(w.launcher, "openmpi");
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.size, 8);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_size, 2);
}

TEST(World, OpenMpiWinsOverTheSlurmAllocationAroundMpirun) {
  World w = detect_world(Env{{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                             {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "16"}, {"SLURM_STEP_ID", "0"},
                             {"SLURM_LOCALID", "0"}});
  EXPECT_EQ(w.launcher, "openmpi");
  EXPECT_EQ(w.rank, 1);
  EXPECT_EQ(w.size, 2);
  EXPECT_EQ(w.local_rank, 1);  // no local variables: assumed one node
  EXPECT_EQ(w.local_size, 2);
}

TEST(World, SlurmStep) {
  World w = detect_world(Env{{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "1"},
                             {"SLURM_NODEID", "2"}, {"SLURM_TASKS_PER_NODE", "2(x3)"}, {"SLURM_STEP_ID", "0"}});
  EXPECT_EQ(w.launcher, "slurm");
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.size, 6);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_size, 2);
}

TEST(World, SlurmUnevenNodesAndStepVariables) {
  Env env{{"SLURM_PROCID", "6"},  {"SLURM_NTASKS", "16"},         {"SLURM_STEP_NUM_TASKS", "7"},
          {"SLURM_LOCALID", "0"}, {"SLURM_NODEID", "2"},           {"SLURM_STEP_ID", "1"},
          {"SLURM_TASKS_PER_NODE", "4(x4)"}, {"SLURM_STEP_TASKS_PER_NODE", "3(x2),1"}};
  World w = detect_world(env);
  EXPECT_EQ(w.size, 7);
  EXPECT_EQ(w.local_size, 1);
  env["SLURM_NODEID"] = "0";
  env["SLURM_PROCID"] = "2";
  env["SLURM_LOCALID"] = "2";
  EXPECT_EQ(detect_world(env).local_size, 3);
}

TEST(World, SlurmNtasksPerNode) {
  World w = detect_world(Env{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "1"},
                             {"SLURM_NTASKS_PER_NODE", "2"}, {"SLURM_STEP_ID", "0"}});
  EXPECT_EQ(w.local_size, 2);
}

TEST(World, SlurmBatchScriptItselfIsAWorldOfOne) {
  // The batch script has SLURM_PROCID and SLURM_NTASKS but is not a task of a step.
  World w = detect_world(Env{{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"},
                             {"SLURM_JOB_ID", "7"}});
  EXPECT_EQ(w.launcher, "none");
  EXPECT_EQ(w.size, 1);
}

TEST(World, PmiAndPmix) {
  World w = detect_world(Env{{"PMI_RANK", "2"}, {"PMI_SIZE", "4"}, {"MPI_LOCALRANKID", "0"},
                             {"MPI_LOCALNRANKS", "2"}});
  EXPECT_EQ(w.launcher, "pmi");
  EXPECT_EQ(w.rank, 2);
  EXPECT_EQ(w.size, 4);
  EXPECT_EQ(w.local_size, 2);
  World x = detect_world(Env{{"PMIX_RANK", "3"}});
  EXPECT_EQ(x.launcher, "pmix");
  EXPECT_EQ(x.rank, 3);
  EXPECT_EQ(x.size, 0);  // unknown until MPI is initialised
}

// The message must name the variable and its value.
void expect_config_error(const Env& env, const std::string& needle) {
  try {
    detect_world(env);
    ADD_FAILURE() << "no ConfigError; expected one mentioning " << needle;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), kExitConfig);
  }
}

TEST(World, GarbageIsAConfigError) {
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "one"}, {"OMPI_COMM_WORLD_SIZE", "2"}}, "OMPI_COMM_WORLD_RANK=\"one\"");
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "-1"}, {"OMPI_COMM_WORLD_SIZE", "2"}}, "OMPI_COMM_WORLD_RANK");
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2x"}}, "OMPI_COMM_WORLD_SIZE=\"2x\"");
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "99999999999"}}, "99999999999");
  expect_config_error({{"OMPI_COMM_WORLD_RANK", ""}, {"OMPI_COMM_WORLD_SIZE", "2"}}, "OMPI_COMM_WORLD_RANK");
  expect_config_error({{"PMI_RANK", "0"}, {"PMI_SIZE", "zero"}}, "PMI_SIZE");
  expect_config_error({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"}, {"SLURM_STEP_ID", "0"},
                       {"SLURM_TASKS_PER_NODE", "2(3)"}},
                      "SLURM_TASKS_PER_NODE=\"2(3)\"");
}

TEST(World, InconsistentValuesAreAConfigError) {
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "2"}}, "rank 2 is not below the world size 2");
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "0"}}, "world size is 0");
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "0"}}, "OMPI_COMM_WORLD_SIZE is not");
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                       {"OMPI_COMM_WORLD_LOCAL_RANK", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}},
                      "local rank 2");
  expect_config_error({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                       {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}},
                      "local size 4 exceeds");
  expect_config_error({{"SLURM_PROCID", "0"}, {"SLURM_STEP_ID", "0"}, {"SLURM_LOCALID", "0"}}, "SLURM_NTASKS is not");
  expect_config_error({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"}, {"SLURM_STEP_ID", "0"},
                       {"SLURM_NODEID", "3"}, {"SLURM_TASKS_PER_NODE", "1(x2)"}},
                      "SLURM_NODEID=3");
}

TEST(World, Describe) {
  World w{1, 4, 1, 2, "openmpi"};
  EXPECT_EQ(describe(w), "rank 1 of 4 (openmpi, local 1 of 2)");
}

}  // namespace
}  // namespace rampart
