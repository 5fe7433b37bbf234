# Analysis scripts (analysis/aggregate.py, plot_results.py, plot_training.py): on fixture run
# directories with known numbers (tests/analysis/make_fixtures.py), and on tiny runs written by
# hardy-hpc train itself, so a change in the program's output files shows up here.
foreach(t aggregate plots training real_runs report)
  hardy_add_script_test(NAME analysis_${t} SCRIPT analysis/test_${t}.sh TIMEOUT 300
                        LABELS analysis)
endforeach()
