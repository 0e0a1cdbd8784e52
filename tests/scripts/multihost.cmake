# Ranks on separate network hosts (tests/scripts/netns_hosts.sh: network namespaces joined by veth
# links and a bridge; Open MPI launches into them through an agent, TCP only between hosts).
# Skipped (exit 77) without root, iproute2 or Fashion-MNIST. The training runs share the
# Fashion-MNIST import of mpi_train_data (mpi_train.cmake).
# 2 hosts train the bits of 2 ranks on one host; carried perturbations across hosts; preemption
# of one host and --resume across hosts, bit for bit.
add_test(NAME multihost_train COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/multihost_train.sh)
# A cut link, a killed host, a stalled host: the job ends in time, naming the host or rank, and
# --resume reaches the uninterrupted run's weights.
foreach(fault link-down kill-host stall-host)
  add_test(NAME multihost_fault_${fault} COMMAND bash ${RAMPART_TRAIN_SCRIPTS}/multihost_fault.sh ${fault})
endforeach()
set_tests_properties(multihost_train multihost_fault_link-down multihost_fault_kill-host multihost_fault_stall-host
                     PROPERTIES FIXTURES_REQUIRED mpi_train_data ENVIRONMENT "${RAMPART_TRAIN_TEST_ENV};OMP_NUM_THREADS=1"
                     TIMEOUT 240 SKIP_RETURN_CODE 77 PROCESSORS 2 LABELS "mpi;multihost;train;asan-skip")
# asan-skip: what these exercise in rampart's own code (heartbeats, the watchdog, the trainer) runs
# under the sanitizers in the unit tests and mpi_train_*; these add launch and network behaviour,
# and time limits that instrumented ranks would stretch.
