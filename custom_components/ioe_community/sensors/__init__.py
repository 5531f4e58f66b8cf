"""The sensor entities: the home's, its devices' and its community membership's."""
