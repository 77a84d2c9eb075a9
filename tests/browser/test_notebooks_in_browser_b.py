"""The second half of the browser suite (every other notebook): see test_notebooks_in_browser.py."""
import pytest

from test_notebooks_in_browser import HALF_B, check_notebook_in_browser, lab_tab  # noqa: F401 (fixture)


@pytest.mark.parametrize("name", HALF_B)
def test_notebook_in_browser(name, lab_tab, screenshot_dir):
    check_notebook_in_browser(name, lab_tab, screenshot_dir)
