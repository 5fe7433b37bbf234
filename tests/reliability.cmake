# Reliability (docs/RELIABILITY.md): non-finite steps, one rank failing alone, full disks, the
# kill drill. Each test runs the real program on a tiny dataset with faults injected through
# HARDY_FAULT, under a timeout that turns a hang into a failure.
hardy_add_script_test(NAME reliability_nonfinite SCRIPT reliability/test_nonfinite.sh TIMEOUT 300 LABELS reliability)
hardy_add_script_test(NAME reliability_disk SCRIPT reliability/test_disk.sh TIMEOUT 400 LABELS reliability)
hardy_add_script_test(NAME reliability_rank_fault SCRIPT reliability/test_rank_fault.sh TIMEOUT 600 LABELS reliability)
hardy_add_script_test(NAME reliability_kill_drill SCRIPT reliability/kill_drill.sh ARGS 20 TIMEOUT 900 LABELS reliability)
hardy_add_script_test(NAME reliability_corrupt_files SCRIPT reliability/test_corrupt_files.sh TIMEOUT 400 LABELS reliability)
