# The command line's error paths, through the real binary.
add_test(NAME cli_errors
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/cli_errors.sh ${PROJECT_BINARY_DIR}/bin/rampart
          ${PROJECT_SOURCE_DIR} ${RAMPART_FMNIST})
set_tests_properties(cli_errors PROPERTIES TIMEOUT 400)

# Stop signals in the final evaluation and without --out; an unwritable metrics file.
add_test(NAME train_signals
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/train_signals.sh ${PROJECT_BINARY_DIR}/bin/rampart ${RAMPART_FMNIST})
set_tests_properties(train_signals PROPERTIES TIMEOUT 400 SKIP_RETURN_CODE 77 ENVIRONMENT "OMP_NUM_THREADS=1")
