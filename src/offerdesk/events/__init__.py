"""Offer events (the registrable entry points of an offer) and their session dates."""
