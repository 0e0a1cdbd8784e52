# Multi-rank tests: tests/mpi/*.cpp built as programs, run under mpirun with 1, 2 and 4 ranks.
file(GLOB RAMPART_MPI_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/mpi/*.cpp)
foreach(src ${RAMPART_MPI_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE rampart_cluster)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endforeach()

# ../shared/PLATFORM.md: root needs the ALLOW variables; more ranks than cores
# need oversubscription and yielding, or idle ranks spin.
set(RAMPART_MPI_ENV
  "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_mpi_yield_when_idle=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMP_NUM_THREADS=1")
set(RAMPART_MPIRUN ${MPIEXEC_EXECUTABLE} --oversubscribe)

foreach(np 1 2 4)
  add_test(NAME mpi_collectives_np${np} COMMAND ${RAMPART_MPIRUN} -np ${np} $<TARGET_FILE:mpi_collectives>)
  set_tests_properties(mpi_collectives_np${np} PROPERTIES ENVIRONMENT "${RAMPART_MPI_ENV}" TIMEOUT 60
                       PROCESSORS ${np} FAIL_REGULAR_EXPRESSION "FAILED")
endforeach()
# Without a launcher: a world of one on the self communicator, no mpirun needed.
add_test(NAME mpi_collectives_no_launcher COMMAND $<TARGET_FILE:mpi_collectives>)
set_tests_properties(mpi_collectives_no_launcher PROPERTIES TIMEOUT 60 FAIL_REGULAR_EXPRESSION "FAILED"
                     PASS_REGULAR_EXPRESSION "rank 0 of 1 \\(self\\)")

# A rank killed mid-training: mpirun must end the job and name the rank, within 30 s.
# A rank that stalls: the watchdog (--timeout 3 here) must end it with rampart's message.
foreach(np 2 4)
  add_test(NAME mpi_dead_rank_kill_np${np}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/expect_job_dies.sh 30 "rank 1 .*(exited on signal|killed)"
                   ${RAMPART_MPIRUN} -np ${np} $<TARGET_FILE:mpi_dead_rank> kill 30)
  add_test(NAME mpi_dead_rank_stall_np${np}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/expect_job_dies.sh 30
                   "rampart: rank [0-9]+: all-reduce of 1.0 MB did not complete within 3 s"
                   ${RAMPART_MPIRUN} -np ${np} $<TARGET_FILE:mpi_dead_rank> stall 3)
  set_tests_properties(mpi_dead_rank_kill_np${np} mpi_dead_rank_stall_np${np} PROPERTIES
                       ENVIRONMENT "${RAMPART_MPI_ENV}" TIMEOUT 60 PROCESSORS ${np})
endforeach()
