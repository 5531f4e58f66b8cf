"""The community's members: who they are, their credentials, and what the broker lets them do."""
