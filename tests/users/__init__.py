"""Tests of the users domain: its rules through its service, its wire through the API."""
