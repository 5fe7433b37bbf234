# Analysis scripts (analysis/aggregate.py, plot_results.py, plot_training.py) on fixture run
# directories with known numbers written by tests/analysis/make_fixtures.py.
foreach(t aggregate plots training)
  hardy_add_script_test(NAME analysis_${t} SCRIPT analysis/test_${t}.sh TIMEOUT 60
                        LABELS analysis)
endforeach()
