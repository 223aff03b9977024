"""Data extraction and critical appraisal: forms as data (:mod:`synth.extraction.forms`),
reviewers' values as append-only events, comparison and consensus, the app, the tables and
confidence in each finding. Import the submodules directly."""
