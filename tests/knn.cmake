# kNN retrieval and the top-K merge / neighbour-row collectives (src/knn/knn*.c, src/dist/dist_topk.c).
hardy_add_test(NAME test_knn_unit SOURCES test_knn_unit.c TIMEOUT 60 LABELS knn)
hardy_add_test(NAME test_knn_dist SOURCES test_knn_dist.c RANKS 1 2 3 4 TIMEOUT 60 LABELS knn)
hardy_add_script_test(NAME test_knn_cmd SCRIPT knn/knn_cmd.sh TIMEOUT 120 LABELS knn)
hardy_add_test(NAME test_knn_memory SOURCES test_knn_memory.c RANKS 1 2 TIMEOUT 60 LABELS knn)
# Every kernel, each also with a tiny tile (16 query rows per thread x 64 index rows) so that
# every search crosses chunk, block and partial-panel boundaries. The default runs use the best
# kernel of this CPU; a CPU without an instruction set runs the next kernel instead (the test
# prints which one ran).
hardy_add_test_variant(NAME test_knn_unit SUFFIX blas ENV HARDY_KNN_KERNEL=blas LABELS knn)
hardy_add_test_variant(NAME test_knn_unit SUFFIX blas_tiny ENV HARDY_KNN_KERNEL=blas
  HARDY_KNN_TILE=16x64 LABELS knn)
hardy_add_test_variant(NAME test_knn_unit SUFFIX avx512_tiny ENV HARDY_KNN_KERNEL=fused-avx512
  HARDY_KNN_TILE=16x64 LABELS knn)
hardy_add_test_variant(NAME test_knn_unit SUFFIX avx2 ENV HARDY_KNN_KERNEL=fused-avx2 LABELS knn)
hardy_add_test_variant(NAME test_knn_unit SUFFIX avx2_tiny ENV HARDY_KNN_KERNEL=fused-avx2
  HARDY_KNN_TILE=16x64 LABELS knn)
hardy_add_test_variant(NAME test_knn_dist SUFFIX blas RANKS 1 2 3 4 TIMEOUT 60
  ENV HARDY_KNN_KERNEL=blas LABELS knn)
hardy_add_test_variant(NAME test_knn_dist SUFFIX avx512_tiny RANKS 2 3 TIMEOUT 60
  ENV HARDY_KNN_KERNEL=fused-avx512 HARDY_KNN_TILE=16x64 LABELS knn)
hardy_add_test_variant(NAME test_knn_dist SUFFIX avx2 RANKS 2 3 TIMEOUT 60
  ENV HARDY_KNN_KERNEL=fused-avx2 LABELS knn)
