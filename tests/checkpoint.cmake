# Checkpoint module: round trips, tables across rank counts, refusal of bad files, retention,
# compatibility, kill -9 during writes, and h5py access by tensor name.
hardy_add_test(NAME test_ckpt SOURCES test_ckpt.c RANKS 1 2 3 4 TIMEOUT 60)
hardy_add_test(NAME test_ckpt_errors SOURCES test_ckpt_errors.c RANKS 1 2 3 4 TIMEOUT 60)

# The driver of the script tests (writes checkpoints in a loop / checks a directory).
add_executable(test_ckpt_writer test_ckpt_writer.c)
target_compile_options(test_ckpt_writer PRIVATE ${HARDY_WARNINGS})
target_link_libraries(test_ckpt_writer PRIVATE hardy)
hardy_add_script_test(NAME ckpt_kill SCRIPT checkpoint/test_kill.sh
  ARGS $<TARGET_FILE:test_ckpt_writer> TIMEOUT 120)
hardy_add_script_test(NAME ckpt_h5py SCRIPT checkpoint/test_h5py.sh
  ARGS $<TARGET_FILE:test_ckpt_writer> TIMEOUT 60)
