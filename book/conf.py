"""Sphinx configuration of the course site. Run through `python book/build.py` (`make book`), which
executes the notebooks first and stages the sources in _build/src; this file is passed with `-c book`.

Engine: Sphinx + myst-nb (reads the executed notebooks and the Markdown pages) + sphinx-book-theme
(sidebar table of contents, previous/next links, a download button per page, full-text search); all of
them install from the package index and ship their assets, so the build fetches nothing. LaTeX is
rendered by MathJax 3 served from the site itself (_static/mathjax, copied by build.py from the
`django-static-mathjax` package, which is only MathJax's files).
"""
import json
import os
import sys
from pathlib import Path

import yaml

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
sys.path.insert(0, str(ROOT))                 # autodoc imports linattn_edu from this checkout

project = yaml.safe_load((BOOK / "toc.yml").read_text())["title"]
author = "linattn-edu"
copyright = "linattn-edu contributors"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]

SRC = Path(os.environ.get("LINATTN_BOOK_SRC", ROOT / "_build" / "src"))     # staged by build.py

root_doc = "index"
exclude_patterns = ["_static", "**/.ipynb_checkpoints"]
html_static_path = [str(SRC / "_static")]    # the staged _static: MathJax and the site's CSS
html_css_files = ["course.css"]

# build.py executed every notebook (LINATTN_SEED=1, cell errors fail the build) and replaced each
# panel by its figure; myst-nb only renders them.
nb_execution_mode = "off"
nb_ipywidgets_js = {}                         # no widget views are left, and no widget manager from a CDN
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

mathjax_path = "mathjax/tex-mml-chtml.js"     # relative to _static: served locally
mathjax3_config = {"tex": {"tags": "ams"}}

html_theme = "sphinx_book_theme"
html_title = project
html_favicon = str(BOOK / "favicon.svg")      # a page without one makes the browser ask for /favicon.ico (404)
html_copy_source = True                       # the download button offers the page's notebook
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "home_page_in_toc": True,
}
html_context = {"default_mode": "light"}

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# <title> and the browser tab: a heading's text without LaTeX (build.py writes these plain titles).
_TITLES = {}
_titles_file = SRC / "titles.json"
if _titles_file.exists():
    _TITLES = json.loads(_titles_file.read_text())


def _plain_title(app, pagename, templatename, context, doctree):
    if pagename in _TITLES:
        context["title"] = _TITLES[pagename]
        context["pagetitle"] = f"{_TITLES[pagename]} — {project}"


def _plain_text_bars(app, what, name, obj, options, lines):
    """The docstrings are plain text in the notebooks' notation, where |x| is an absolute value or a
    norm; in reStructuredText it would start a substitution. Escape the bars."""
    lines[:] = [line.replace("|", "\\|") for line in lines]


def setup(app):
    # MathJax on every page, not only on pages with math: the sidebar shows titles with LaTeX everywhere
    app.set_html_assets_policy("always")
    app.connect("html-page-context", _plain_title)
    app.connect("autodoc-process-docstring", _plain_text_bars)
