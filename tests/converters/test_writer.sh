# The shared writer and validator of analysis/hardy_h5.py (tests/converters/check_writer.py).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$PYTHON" "$T/check_writer.py" "$W"
