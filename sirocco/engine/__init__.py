"""Sirocco engine."""
