# Multi-rank training with the real trainer under mpirun (tests/scripts/mpi_train_*.sh,
# tests/mpi/mpi_train_lockstep.cpp). They share one Fashion-MNIST import, made by the
# fixture test mpi_train_data. Exit 77 (skipped) where Fashion-MNIST is not installed.
set(RAMPART_TRAIN_TEST_ENV
  "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_mpi_yield_when_idle=1;OMPI_MCA_rmaps_base_oversubscribe=1"
  "RAMPART_BIN=$<TARGET_FILE:rampart>;CHECKPOINT_DIFF=$<TARGET_FILE:checkpoint_diff>"
  "RAMPART_TEST_DATA_DIR=${PROJECT_BINARY_DIR}/testdata/fmnist;RAMPART_FMNIST=${RAMPART_FMNIST}")
set(RAMPART_TRAIN_SCRIPTS ${CMAKE_CURRENT_SOURCE_DIR}/scripts)

add_test(NAME mpi_train_data
         COMMAND bash -c "source ${RAMPART_TRAIN_SCRIPTS}/mpi_train_lib.sh && ensure_data && ls -l $RAMPART_TEST_DATA_DIR")
set_tests_properties(mpi_train_data PROPERTIES FIXTURES_SETUP mpi_train_data TIMEOUT 60 SKIP_RETURN_CODE 77
                     ENVIRONMENT "${RAMPART_TRAIN_TEST_ENV}")

# 1, 2 and 4 ranks agree to float tolerance; 2 ranks twice agree bit for bit.
add_test(NAME mpi_train_consistency COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_train_consistency.sh)
# Every rank holds bit-identical weights after every step (and that loop is rampart::train's).
foreach(np 2 4)
  add_test(NAME mpi_train_lockstep_np${np}
           COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe --bind-to none -np ${np} $<TARGET_FILE:mpi_train_lockstep>
                   ${PROJECT_BINARY_DIR}/testdata/fmnist/train.h5 ${PROJECT_BINARY_DIR}/Testing/mpi_train_lockstep_np${np})
  set_tests_properties(mpi_train_lockstep_np${np} PROPERTIES FAIL_REGULAR_EXPRESSION "FAILED"
                       PASS_REGULAR_EXPRESSION "mpi_train_lockstep: passed")
endforeach()
# A rank SIGKILLed mid-training ends the job within 30 s, naming the rank.
add_test(NAME mpi_train_dead_rank1 COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_train_dead_rank.sh 1)
add_test(NAME mpi_train_dead_rank0 COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_train_dead_rank.sh 0)
# SIGUSR1 -> checkpoint, exit 75 -> --resume -> bit-identical to an uninterrupted run;
# the signal sent to mpirun (which forwards it), or to one rank only.
add_test(NAME mpi_train_preempt COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_train_preempt.sh 2 mpirun)
add_test(NAME mpi_train_preempt_one_rank COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_train_preempt.sh 2 rank 1)
# Carried perturbations sharded over 3 ranks (uneven shards and batch parts): stopped, written
# through rank 0, read back by blocks on resume; the same weights and store bit for bit.
add_test(NAME mpi_train_preempt_carry COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_train_preempt.sh 3 mpirun)
# A divergence never replaces a good checkpoint, and never ends with exit 0.
add_test(NAME mpi_train_diverge COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_train_diverge.sh)
# TRADES and MART on 2 ranks: end to end, 1 against 2 ranks, and bit for bit twice. Its code
# is the unit tests' (PairLossStep.*), which the sanitizers run; label asan-skip keeps this
# 10-run script out of the AddressSanitizer pass (scripts/sanitize.sh).
add_test(NAME mpi_train_losses COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_train_losses.sh)
# AutoAttack on 1 and 2 ranks: the same result for every image.
add_test(NAME mpi_eval_autoattack COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/mpi_eval_autoattack.sh)

set_tests_properties(mpi_train_consistency mpi_train_lockstep_np2 mpi_train_lockstep_np4 mpi_train_dead_rank1
                     mpi_train_dead_rank0 mpi_train_preempt mpi_train_preempt_one_rank mpi_train_preempt_carry
                     mpi_train_diverge mpi_train_losses mpi_eval_autoattack PROPERTIES
                     FIXTURES_REQUIRED mpi_train_data ENVIRONMENT "${RAMPART_TRAIN_TEST_ENV};OMP_NUM_THREADS=1"
                     TIMEOUT 120 SKIP_RETURN_CODE 77 PROCESSORS 2 LABELS "mpi;train")
set_tests_properties(mpi_train_losses PROPERTIES LABELS "mpi;train;asan-skip")
set_tests_properties(mpi_train_preempt_carry PROPERTIES
                     ENVIRONMENT "${RAMPART_TRAIN_TEST_ENV};OMP_NUM_THREADS=1;PREEMPT_ARGS=--attack-init carry")
# AutoAttack's searches run under the sanitizers in the unit tests (Search*, Fab*, Square*);
# this 1-against-2-rank script is hundreds of thousands of passes, too slow instrumented.
set_tests_properties(mpi_eval_autoattack PROPERTIES LABELS "mpi;train;asan-skip" TIMEOUT 300)

# The Slurm batch template with the real trainer: preempt, requeue, resume, same weights.
add_test(NAME slurm_train_preempt COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/slurm_train_preempt.sh)
set_tests_properties(slurm_train_preempt PROPERTIES FIXTURES_REQUIRED mpi_train_data TIMEOUT 240
                     SKIP_RETURN_CODE 77 RESOURCE_LOCK slurm PROCESSORS 2 LABELS "slurm;train"
                     ENVIRONMENT "${RAMPART_TRAIN_TEST_ENV}")
# The same on 2 Slurm nodes, each a network host of its own (netns_hosts.sh), sbatch -N 2.
add_test(NAME slurm_train_preempt_hosts COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/slurm_train_preempt.sh hosts)
set_tests_properties(slurm_train_preempt_hosts PROPERTIES FIXTURES_REQUIRED mpi_train_data TIMEOUT 240
                     SKIP_RETURN_CODE 77 RESOURCE_LOCK slurm PROCESSORS 2 LABELS "slurm;multihost;train;asan-skip"
                     ENVIRONMENT "${RAMPART_TRAIN_TEST_ENV}")
