"""Third-party modules the analysis scripts need, and the one-line hint when one is missing.

`need("numpy", "matplotlib")` imports the named modules; when any is missing it prints one line
to stderr naming the pip and the Debian package (and the interpreter that lacks them) and exits
with status 2, instead of a traceback. Standard library only, so it always imports.
"""

import importlib
import os
import sys

EXIT_INPUT = 2
# module -> (pip name, Debian package)
PACKAGES = {
    "numpy": ("numpy", "python3-numpy"),
    "h5py": ("h5py", "python3-h5py"),
    "matplotlib": ("matplotlib", "python3-matplotlib"),
}


def need(*modules):
    """Import each module; on the first failure print the install hint and exit 2."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        pip = " ".join(PACKAGES.get(m, (m, m))[0] for m in missing)
        apt = " ".join(PACKAGES.get(m, (m, "python3-" + m))[1] for m in missing)
        print("%s: needs %s, which %s (Python %d.%d) cannot import: pip install %s (or "
              "analysis/requirements.txt), or on Debian/Ubuntu apt-get install %s and run it "
              "with /usr/bin/python3" % (os.path.basename(sys.argv[0]), ", ".join(missing),
                                          sys.executable or "python3", sys.version_info[0],
                                          sys.version_info[1], pip, apt), file=sys.stderr)
        sys.exit(EXIT_INPUT)
