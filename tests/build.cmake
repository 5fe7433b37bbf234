# Build and packaging: an install into a temporary prefix runs from outside the source tree,
# and a configure step that cannot find a library stops with the message naming its packages.
hardy_add_script_test(NAME build_install SCRIPT build/test_install.sh
  ARGS ${CMAKE_BINARY_DIR} ${CMAKE_COMMAND} TIMEOUT 600 LABELS build)
hardy_add_script_test(NAME build_configure_missing SCRIPT build/test_configure_missing.sh
  ARGS ${CMAKE_COMMAND} ${CMAKE_C_COMPILER} ${MPI_C_COMPILER} TIMEOUT 300 LABELS build)
