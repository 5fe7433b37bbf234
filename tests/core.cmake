# Core modules: config, metrics, masks and RNG, error agreement.
hardy_add_test(NAME test_config SOURCES test_config.c)
hardy_add_test(NAME test_metrics SOURCES test_metrics.c RANKS 1 2 3 4)
hardy_add_test(NAME test_mask SOURCES test_mask.c)
hardy_add_test(NAME test_mask_dist SOURCES test_mask_dist.c RANKS 1 3 TIMEOUT 180)
hardy_add_test(NAME test_agree SOURCES test_agree.c RANKS 1 2 3 4)
hardy_add_script_test(NAME cli_config SCRIPT cli/test_cli_config.sh)
hardy_add_test(NAME test_dist_grad SOURCES test_dist_grad.c RANKS 1 2 3 4)
hardy_add_test(NAME test_curriculum SOURCES test_curriculum.c)

# The source tree follows the module map in docs/ARCHITECTURE.md (no include of a module above).
add_test(NAME architecture_layers COMMAND bash ${PROJECT_SOURCE_DIR}/tools/check-layers.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(architecture_layers PROPERTIES LABELS "unit")
