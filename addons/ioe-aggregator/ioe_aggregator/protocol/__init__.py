"""The home ↔ community wire protocol, v1.

``schemas/`` (normative, explained in ``docs/protocol.md``), ``messages`` (the typed messages,
which the integration carries a copy of), ``codec`` (every message received decoded, every
message sent checked) and ``compiled`` (the schemas as fast checks).
"""
