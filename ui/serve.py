"""Start the dashboard: ``python -m ui.serve [streamlit options]`` (what ``make app`` runs).

The same as ``streamlit run app.py``, except that the sidebar lists ``app.py``'s pages from
the very first request.  Streamlit treats an app with a ``pages/`` folder as a version-1
multipage app (one page per file, file names in the sidebar) until its main script has
called ``st.navigation`` once, so a first visit to ``/curves`` on a fresh server ran
``pages/curves.py`` alone, under the file list, and never ran ``app.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    """Serve ``app.py`` with its own page list; ``argv`` are ``streamlit run`` options."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    # app.py always declares its pages with st.navigation: say so before the first request
    PagesManager.uses_pages_directory = False
    options = sys.argv[1:] if argv is None else argv
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *options]
    cli.main()


if __name__ == "__main__":
    main()
