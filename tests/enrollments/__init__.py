"""Tests of the enrollments domain: its rules through its service (test_service.py). Its wire
is tested in tests/test_enrollments.py and tests/test_enrollment_state_machine.py."""
