"""Screening: decisions as events, prioritisation by active learning, stopping, simulation."""
