"""Reusable L3 constructs of kmsecdh. They know nothing about environments; stacks compose them."""
