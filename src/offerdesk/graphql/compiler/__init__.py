"""GraphQL query operations compiled into one SQL statement that builds the answer's JSON.

``declarations`` is what domains declare (their ``graphql_map.py``); ``plan`` compiles an
operation; ``json_sql`` writes JSON per engine; ``extension`` runs plans in place of the
executor. The compiler knows GraphQL and SQL, and no domain.
"""
