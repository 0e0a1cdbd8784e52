# rampart against PyTorch on the same checkpoint: the zoo's checkpoints load into the
# standard PyTorch definitions with load_state_dict(strict=True) and give rampart's logits.
# Exit 77 (skipped, with the reason) where python3-torch is not installed
# (scripts/install-deps.sh --with-torch; CI installs it).
add_test(NAME torch_state_dict
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/scripts/torch_state_dict.py $<TARGET_FILE:rampart>
          ${PROJECT_SOURCE_DIR})
set_tests_properties(torch_state_dict PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 PROCESSORS 2 LABELS torch
                     ENVIRONMENT "OMP_NUM_THREADS=2")
