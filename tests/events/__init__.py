"""Tests of the events domain: its rules through its service, its wire through the API."""
