# Multi-view hardness: direct hardness, MI estimators (entropy, ScaLAPACK gaussian), global
# normalisation and combination, distributed ranking, hardness.h5.
hardy_add_test(NAME test_rank SOURCES test_rank.c RANKS 1 2 3 4)
