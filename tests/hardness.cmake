# Multi-view hardness: direct hardness, MI estimators (entropy, ScaLAPACK gaussian), global
# normalisation and combination, distributed ranking, hardness.h5.
hardy_add_test(NAME test_rank SOURCES test_rank.c RANKS 1 2 3 4)
hardy_add_test(NAME test_hardness SOURCES test_hardness.c RANKS 1 2 3 4)
hardy_add_test(NAME test_hardness_gauss SOURCES test_hardness_gauss.c RANKS 1 2 3 4)
hardy_add_test(NAME test_hardness_io SOURCES test_hardness_io.c)
hardy_add_script_test(NAME hardness_h5_roundtrip SCRIPT hardness/test_hardness_h5.sh
  ARGS $<TARGET_FILE:test_hardness_io> TIMEOUT 120)
