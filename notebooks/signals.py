"""What the notebooks app announces to the apps built on it (runs), which listen without being imported here."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that stored a new version; kwarg `version` (NotebookVersion). The runs app records
# the environment lock the version ran with, in the same transaction.
version_saved = Signal()
