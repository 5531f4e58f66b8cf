"""Who may do what: API tokens with scopes, broker passwords, and how both are kept hashed."""
