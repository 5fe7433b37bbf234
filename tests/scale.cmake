# Scale: thread placement, many ranks, memory per rank, sharded optimiser state.
hardy_add_test(NAME test_placement SOURCES test_placement.c RANKS 1 2 3 4)
hardy_add_script_test(NAME scale_threads SCRIPT scale/test_threads.sh TIMEOUT 300 LABELS train)
