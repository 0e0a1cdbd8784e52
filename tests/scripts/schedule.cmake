# The attack-budget scheduler end to end: a budgeted run stops within budget with a checkpoint
# and an evaluation; 2 ranks apply the same decisions; rampart plan and its errors; the first
# plan made of whole steps and checkpoint writes, near the first epoch's measured cost.
set(RAMPART_SCHED_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_mpi_yield_when_idle=1;OMP_NUM_THREADS=2;RAMPART_FMNIST=${RAMPART_FMNIST}")
add_test(NAME schedule_budget_stop
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/schedule_budget.sh ${PROJECT_BINARY_DIR}/bin/rampart
                 ${PROJECT_SOURCE_DIR} 0.012)
add_test(NAME schedule_ranks_agree_np2
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/schedule_agree.sh ${PROJECT_BINARY_DIR}/bin/rampart
                 ${PROJECT_SOURCE_DIR} ${MPIEXEC_EXECUTABLE} --oversubscribe)
add_test(NAME schedule_plan_cli
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/schedule_plan.sh ${PROJECT_BINARY_DIR}/bin/rampart
                 ${PROJECT_SOURCE_DIR})
add_test(NAME schedule_calibration
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/schedule_calibration.sh ${PROJECT_BINARY_DIR}/bin/rampart
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(schedule_budget_stop schedule_ranks_agree_np2 schedule_plan_cli schedule_calibration PROPERTIES
                     ENVIRONMENT "${RAMPART_SCHED_ENV}" TIMEOUT 180 SKIP_RETURN_CODE 77 PROCESSORS 2
                     LABELS schedule)
