"""The control centre: the community manager's web app, served with the API.

Plain ES modules under ``static/`` (no build step), one per page or component; the page reads
and changes everything through the documented ``/api/v1`` API, like any other client.
"""
