# Converters (analysis/*.py): fixtures in the published layouts converted and checked by
# content, refused inputs, and the real digits table from Debian's python3-sklearn package.
foreach(t writer iemocap mosei mmsa table)
  hardy_add_script_test(NAME converters_${t} SCRIPT converters/test_${t}.sh TIMEOUT 60
                        LABELS converters)
endforeach()
hardy_add_script_test(NAME converters_digits SCRIPT converters/test_digits.sh TIMEOUT 120
                      LABELS converters network)
