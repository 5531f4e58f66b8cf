"""The community's history from the store, from either source: reconciled, or ready to compare.

``reconciliation.py`` sets each member's own meter and its distributor's side by side per
month; ``hourly.py`` gives the hourly consumption and generation that the sharing comparison
and the members' results count; ``commands.py`` is their command line.
"""
