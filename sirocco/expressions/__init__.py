"""Sirocco expressions."""
