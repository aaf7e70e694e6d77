"""Tests of the content domain: its rules through its service, its wire through the API."""
