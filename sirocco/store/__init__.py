"""Sirocco store."""
