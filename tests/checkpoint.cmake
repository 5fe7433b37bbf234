# Checkpoint module: round trips, tables across rank counts, refusal of bad files, retention,
# compatibility, kill -9 during writes, and h5py access by tensor name.
hardy_add_test(NAME test_ckpt SOURCES test_ckpt.c RANKS 1 2 3 4 TIMEOUT 60)
hardy_add_test(NAME test_ckpt_errors SOURCES test_ckpt_errors.c RANKS 1 2 3 4 TIMEOUT 60)
