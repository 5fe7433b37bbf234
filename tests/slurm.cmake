# Slurm job scripts (jobs/) run against a private single-node Slurm on this machine. The
# slurm_start fixture starts munged, slurmctld and slurmd once (installing slurm-wlm and munge
# when missing, as root), every slurm_* test submits real jobs to it, and slurm_stop cancels
# what is left and stops the daemons even when a test failed. A test run on its own (ctest -R)
# pulls in both fixtures; a script run by hand starts and stops Slurm itself.
# Exit code 77 (not root, or no way to install Slurm) marks a test skipped.
# One cluster per build tree: its own state directory (and so its own ports).
string(MD5 _slurm_hash "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${_slurm_hash}" 0 8 _slurm_hash)
set(_slurm_env "HARDY_SLURM_DIR=/tmp/hardy-slurm-${_slurm_hash}")
hardy_add_script_test(NAME slurm_start SCRIPT slurm/start_slurm.sh TIMEOUT 300 LABELS slurm)
hardy_add_script_test(NAME slurm_stop SCRIPT slurm/stop_slurm.sh TIMEOUT 60 LABELS slurm)
set_tests_properties(slurm_start PROPERTIES FIXTURES_SETUP slurm SKIP_RETURN_CODE 77)
set_tests_properties(slurm_stop PROPERTIES FIXTURES_CLEANUP slurm)
set_property(TEST slurm_start slurm_stop APPEND PROPERTY ENVIRONMENT "${_slurm_env}")
foreach(t train sweep pipeline requeue badconfig pack)
  hardy_add_script_test(NAME slurm_${t} SCRIPT slurm/test_${t}.sh TIMEOUT 180 LABELS slurm)
  set_tests_properties(slurm_${t} PROPERTIES FIXTURES_REQUIRED slurm SKIP_RETURN_CODE 77)
  set_property(TEST slurm_${t} APPEND PROPERTY ENVIRONMENT "HARDY_SLURM_SHARED=1" "${_slurm_env}")
endforeach()
