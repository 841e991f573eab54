"""The vote: answer extraction and equivalence, majority vote, per-group decisions, rewards, label history.

Nothing here depends on TRL: it runs on strings and plain lists, so it can be tested and reused alone.
"""
