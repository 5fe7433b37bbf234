# Analysis scripts (analysis/aggregate.py, plot_results.py, plot_training.py, plot_hardness.py,
# report.py): on fixture run directories with known numbers (tests/analysis/make_fixtures.py),
# and on tiny runs written by hardy-hpc train itself, so a change in the program's output files
# shows up here. Each needs about 5-15 s of CPU; the timeouts leave room for a loaded machine.
foreach(t aggregate plots training real_runs)
  hardy_add_script_test(NAME analysis_${t} SCRIPT analysis/test_${t}.sh TIMEOUT 300
                        LABELS analysis)
endforeach()
hardy_add_script_test(NAME analysis_report SCRIPT analysis/test_report.sh TIMEOUT 600
                      LABELS analysis)
