"""Sirocco transport."""
