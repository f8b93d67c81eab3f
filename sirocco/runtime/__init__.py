"""Sirocco runtime."""
