# The command line's error paths, through the real binary.
add_test(NAME cli_errors
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/cli_errors.sh ${PROJECT_BINARY_DIR}/bin/rampart
          ${PROJECT_SOURCE_DIR} ${RAMPART_FMNIST})
set_tests_properties(cli_errors PROPERTIES TIMEOUT 120)
