# Scale: thread placement, many ranks, memory per rank, sharded optimiser state.
hardy_add_test(NAME test_placement SOURCES test_placement.c RANKS 1 2 3 4)
hardy_add_script_test(NAME scale_threads SCRIPT scale/test_threads.sh TIMEOUT 300 LABELS train)
hardy_add_script_test(NAME scale_memory SCRIPT scale/test_memory.sh TIMEOUT 300 LABELS train)
# 64 oversubscribed ranks on a 2-core machine take 8-10 minutes (mostly MPI start-up and the
# collective HDF5 checkpoint writes, ~20 s each for 0.5 MB at 64 ranks), beyond the budget of
# a default test: opt in with -DHARDY_TEST_64_RANKS=ON.
option(HARDY_TEST_64_RANKS "Run the 64-rank pipeline test (minutes on a small machine)" OFF)
if(HARDY_TEST_64_RANKS)
  hardy_add_script_test(NAME scale_64ranks SCRIPT scale/test_64ranks.sh TIMEOUT 1500 LABELS train scale)
endif()
hardy_add_test(NAME test_zero SOURCES test_zero.c RANKS 1 2 3 4)
hardy_add_script_test(NAME scale_zero_train SCRIPT scale/test_zero_train.sh TIMEOUT 600 LABELS train)
