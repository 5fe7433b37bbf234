# Generic tables: CSV (.gz, header, string labels, split column), ARFF (nominal labels,
# stratified test fraction, folds), IDX images (views by image rows, test files), missing
# cells (refused, or marked with --allow-missing).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
table() { "$PYTHON" "$A/convert_table.py" "$@"; }
F=$W/fx
"$PYTHON" "$T/fixtures.py" table "$F"

table --input "$F/table.csv.gz" --views 0-1,2-2,3-4 --label-col animal --split-col part \
  --out "$W/csv.h5"
table --input "$F/table.arff" --views 0-0,1-1,3-3 --label-col class --test-fraction 0.34 \
  --folds 2 --seed 7 --out "$W/arff.h5"
table --images "$F/train-images.gz" --labels "$F/train-labels.gz" \
  --test-images "$F/test-images.gz" --test-labels "$F/test-labels.gz" --views 0-0,1-2,3-3 \
  --scale 0.5 --out "$W/idx.h5"
expect_input_error "missing value|row1, view audio|row2, view visual" \
  table --input "$F/holes.csv" --views 0-0,1-1,2-2 --task regression --out "$W/refused.h5"
table --input "$F/holes.csv" --views 0-0,1-1,2-2 --task regression --allow-missing \
  --out "$W/holes.h5"
"$PYTHON" "$T/check.py" table "$W"
for f in csv arff idx holes; do inspect_ok "$W/$f.h5"; done

expect_input_error "contains the label or split column 5" \
  table --input "$F/table.csv.gz" --views 0-1,2-2,3-5 --label-col animal --out "$W/refused.h5"
