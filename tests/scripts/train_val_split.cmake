# --val-split end to end on 1 and 2 ranks (tests/scripts/train_val_split.sh); uses the
# Fashion-MNIST import and the environment of mpi_train.cmake (included before this file).
add_test(NAME train_val_split COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/train_val_split.sh)
set_tests_properties(train_val_split PROPERTIES
                     FIXTURES_REQUIRED mpi_train_data ENVIRONMENT "${RAMPART_TRAIN_TEST_ENV};OMP_NUM_THREADS=1"
                     TIMEOUT 120 SKIP_RETURN_CODE 77 PROCESSORS 2 LABELS "mpi;train")
