# `cmake --install build --prefix DIR`: a self-contained tree that works from anywhere.
#   DIR/bin/hardy-hpc               the program
#   DIR/bin/hardy-hpc-demo          the demo job (tools/demo.sh), finds the program and configs
#                                   relative to itself
#   DIR/share/hardy-hpc/configs     example configurations
#   DIR/share/hardy-hpc/jobs        Slurm job scripts (find DIR/bin/hardy-hpc relative to themselves)
#   DIR/share/hardy-hpc/analysis    analysis and converter scripts
#   DIR/share/doc/hardy-hpc         README and docs/
# The RPATH keeps libraries found outside the system paths (modules, Spack, conda) reachable.
set(CMAKE_INSTALL_DOCDIR share/doc/hardy-hpc CACHE PATH "docs")
include(GNUInstallDirs)
set(HARDY_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/hardy-hpc)
set_target_properties(hardy-hpc PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS hardy-hpc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/demo.sh DESTINATION ${CMAKE_INSTALL_BINDIR}
  RENAME hardy-hpc-demo)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs ${PROJECT_SOURCE_DIR}/jobs
  ${PROJECT_SOURCE_DIR}/analysis DESTINATION ${HARDY_INSTALL_DATADIR} USE_SOURCE_PERMISSIONS
  PATTERN "__pycache__" EXCLUDE PATTERN "*.pyc" EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
