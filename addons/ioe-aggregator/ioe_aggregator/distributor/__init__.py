"""Data from the electricity distributors: what Datadis and the distributors' files have in common.

``model.py`` names the distributor's data in the store; ``rows.py`` and ``timeline.py`` place
any source's values in UTC; ``csv_files.py`` and ``layouts.py`` read the distributors' CSV
exports; ``importer.py`` stores what a distributor published; ``commands.py`` is the import's
command line.
"""
