"""Tests of the offers domain: its rules through its service, its wire through the API."""
