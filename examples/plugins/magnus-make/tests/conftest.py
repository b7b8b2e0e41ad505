"""The plugin's tests run inside the magnus-render repository: its conformance helpers
(tests/helpers/runlog.py, the samples) are imported from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def console_script(name: str) -> list[str]:
    """The argv of the console script pip installed for this interpreter (``magnus``,
    ``magnus-render``): its scripts folder first (a venv's bin, or /usr/local/bin for a
    system pip), else the PATH."""
    import shutil
    import sysconfig

    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / name
        if candidate.is_file():
            return [str(candidate)]
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"the {name} console script is not installed: pip install -e .")
    return [found]
