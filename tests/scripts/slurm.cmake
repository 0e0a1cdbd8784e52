# Tests on a real single-node Slurm cluster that the test starts and stops
# (tests/scripts/slurm_cluster.sh). Skipped (exit 77) without root or Slurm.
add_test(NAME slurm_smoke COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/slurm_smoke.sh $<TARGET_FILE:mpi_hello>)
set_tests_properties(slurm_smoke PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 RESOURCE_LOCK slurm PROCESSORS 2
                     ENVIRONMENT "OMPI_MCA_mpi_yield_when_idle=1")

# launch/slurm/train.sbatch with a stand-in trainer: USR1 -> exit 75 -> requeue -> resume -> done.
add_test(NAME slurm_requeue_template COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/slurm_requeue.sh)
set_tests_properties(slurm_requeue_template PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77 RESOURCE_LOCK slurm PROCESSORS 2)
