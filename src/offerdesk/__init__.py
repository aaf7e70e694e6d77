"""Offerdesk: a GraphQL service for registration offers in learning."""
