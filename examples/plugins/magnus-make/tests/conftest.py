"""The plugin's tests run inside the magnus-render repository: its conformance helpers
(tests/helpers/runlog.py, the samples) are imported from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
