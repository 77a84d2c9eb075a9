"""The second half of the panels' own-controls corners (every other panel): see test_panel_corners.py."""
import pytest

from test_panel_corners import HALF_B, check_own_controls


@pytest.mark.parametrize("name", HALF_B)
def test_every_corner_of_the_panels_own_controls(name):
    check_own_controls(name)
