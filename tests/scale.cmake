# Scale: thread placement, many ranks, memory per rank, sharded optimiser state.
hardy_add_test(NAME test_placement SOURCES test_placement.c RANKS 1 2 3 4)
hardy_add_script_test(NAME scale_threads SCRIPT scale/test_threads.sh TIMEOUT 300 LABELS train)
hardy_add_script_test(NAME scale_memory SCRIPT scale/test_memory.sh TIMEOUT 300 LABELS train)
hardy_add_script_test(NAME scale_64ranks SCRIPT scale/test_64ranks.sh TIMEOUT 1200 LABELS train scale)
hardy_add_test(NAME test_zero SOURCES test_zero.c RANKS 1 2 3 4)
hardy_add_script_test(NAME scale_zero_train SCRIPT scale/test_zero_train.sh TIMEOUT 600 LABELS train)
