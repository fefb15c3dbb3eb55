"""Helpers the tests share (fixtures are in ``tests/conftest.py``)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
