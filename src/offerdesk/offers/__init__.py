"""Offers: the published registration offers that group offer events."""
