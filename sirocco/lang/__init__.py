"""Sirocco lang."""
