"""Tests of the content domain: its rules through its service (test_service.py). Its wire is
tested in tests/test_content_and_users.py and tests/test_input_rules_all_kinds.py."""
