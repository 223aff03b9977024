"""Extraction and appraisal: forms, events, values, the app, tables and CERQual."""
