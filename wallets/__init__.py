"""Client-side keys, keystores, record encryption, key wrapping and intent signing."""
