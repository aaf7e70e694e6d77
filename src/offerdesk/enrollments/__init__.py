"""Enrollments: capacity, the waiting list and every status change. The rules live here only."""
