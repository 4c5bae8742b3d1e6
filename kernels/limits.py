"""Limits on what hosting sends and stores of outputs, and on one frame of the live stream; notebooks/limits.py
re-exports them beside the draft's own."""

from __future__ import annotations

# The head of one output sent live and in a snapshot, in characters (JSON escaping can make a character six bytes,
# twelve for one outside the BMP: the frame stays under MAX_WS_SEND_BYTES even then). The rest is read in pages.
MAX_OUTPUT_HEAD_CHARS = 64 * 1024
# All heads in one snapshot (or one catch-up of running cells), in encoded bytes: a notebook of MAX_CELLS cells
# each with a large output still opens; cells past it get references only.
MAX_SNAPSHOT_OUTPUT_BYTES = 1024 * 1024
# A message the server sends that is longer than this (in characters) goes out as `chunk` messages of this much
# text each, which the client joins: a snapshot of a notebook at its limits (sources, their CRDT state) is tens of
# megabytes, and Daphne's message limit (MAX_WS_TRANSPORT_BYTES) holds for what it sends too. JSON escaping makes a
# character at most six bytes, so a chunk stays under that limit.
WS_CHUNK_CHARS = 512 * 1024
