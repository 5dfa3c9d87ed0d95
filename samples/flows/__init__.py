"""The flows sample: a runs console whose UI reads through POST filter/count, GraphQL, JSON-RPC."""
