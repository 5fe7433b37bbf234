# Dataset module: format validation, selection, sharded reads, the synthetic generator, and the
# synth/inspect commands.
hardy_add_test(NAME test_dataset_select SOURCES test_dataset_select.c LABELS dataset)
hardy_add_test(NAME test_dataset_shard SOURCES test_dataset_shard.c RANKS 1 2 3 4 TIMEOUT 60
  LABELS dataset)
hardy_add_test(NAME test_dataset_nonfinite SOURCES test_dataset_nonfinite.c RANKS 1 2 3
  TIMEOUT 60 LABELS dataset)
hardy_add_test(NAME test_dataset_featnorm SOURCES test_dataset_featnorm.c RANKS 1 2 3 4
  TIMEOUT 60 LABELS dataset)
hardy_add_test(NAME test_synth_model SOURCES test_synth_model.c LABELS dataset)
foreach(np 1 2)
  hardy_add_script_test(NAME dataset_inspect_errors_np${np} SCRIPT dataset/inspect_errors.sh
    ARGS ${np} TIMEOUT 120 LABELS dataset)
endforeach()
hardy_add_script_test(NAME dataset_synth_ranks SCRIPT dataset/synth_ranks.sh TIMEOUT 120
  LABELS dataset)
