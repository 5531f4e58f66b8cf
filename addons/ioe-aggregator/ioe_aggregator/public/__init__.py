"""The public display: the community's aggregates for anyone, and nobody in them."""
