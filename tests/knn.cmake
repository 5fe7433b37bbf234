# kNN retrieval and the top-K merge / neighbour-row collectives (src/knn*.c, src/dist_topk.c).
hardy_add_test(NAME test_knn_unit SOURCES test_knn_unit.c TIMEOUT 60 LABELS knn)
hardy_add_test(NAME test_knn_dist SOURCES test_knn_dist.c RANKS 1 2 3 4 TIMEOUT 60 LABELS knn)
hardy_add_script_test(NAME test_knn_cmd SCRIPT knn/knn_cmd.sh TIMEOUT 120 LABELS knn)
hardy_add_test(NAME test_knn_memory SOURCES test_knn_memory.c RANKS 1 2 TIMEOUT 60 LABELS knn)
