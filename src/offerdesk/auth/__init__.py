"""API clients, bearer tokens, scopes and the OAuth 2.0 client-credentials endpoint."""
