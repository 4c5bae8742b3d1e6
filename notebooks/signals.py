"""What the notebooks app announces to the apps built on it (kernels), which listen without being imported here."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once the transaction that removed cells from a draft has committed; kwargs `notebook_id` (int), `cell_ids`
# (list of str) and `order` (the draft's cell ids before the change). The kernels app frees what the notebook's
# kernel still holds of them and marks stale the cells below that read what they defined.
cells_deleted = Signal()

# Sent inside the transaction that stored a new version; kwarg `version` (NotebookVersion). The runs app records
# the environment lock the version ran with, in the same transaction.
version_saved = Signal()
