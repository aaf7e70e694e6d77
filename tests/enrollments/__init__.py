"""Tests of the enrollments domain: its rules through its service, its wire through the API."""
