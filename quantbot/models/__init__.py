"""Verified model artifacts (a directory: model file(s) plus a manifest of their sha256) and
the one model-driven sleeve kind's model, a logistic regression over a few bar features."""
