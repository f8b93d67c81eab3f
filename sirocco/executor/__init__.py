"""Sirocco executor."""
