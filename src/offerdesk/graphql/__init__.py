"""The GraphQL layer: thin types and resolvers over the domain services."""
