"""Helpers the tests share: plain functions and classes, imported by test modules and conftest.py files.

Test modules import shared code only from here, never from a conftest.py or another test_*.py module
(tests/unit/test_test_layout.py enforces it): a conftest is pytest's to load, and a helper living in a test
module drags that module's tests and fixtures along into every importer.
"""
