"""Every limit on what a client may send, in one place: the draft's, the REST API's and the WebSocket's.

Plain Python (no Django), so the settings and the server's launcher (`quire.serve`) derive their transport limits
from these instead of keeping numbers of their own. docs/api.md has them as one table.
"""

from __future__ import annotations

# Hosting's limits on outputs and on one frame, defined beside the code that applies them (kernels/ does not
# import notebooks/) and listed here with the rest.
from kernels.limits import MAX_OUTPUT_HEAD_CHARS as MAX_OUTPUT_HEAD_CHARS
from kernels.limits import MAX_SNAPSHOT_OUTPUT_BYTES as MAX_SNAPSHOT_OUTPUT_BYTES
from kernels.limits import WS_CHUNK_CHARS as WS_CHUNK_CHARS
from quire.lib.pagination_limits import PAGE_LIMIT

# ------------------------------------------------------------------ the draft

MAX_SOURCE_BYTES = 1_000_000
MAX_CELLS = 2_000
MAX_TITLE = 200
MAX_MESSAGE = 1_000
# A whole draft (sources, metadata and config): big enough for real work, small enough to load per request.
MAX_NOTEBOOK_BYTES = 16_000_000
MAX_METADATA_BYTES = 64_000
MAX_CONFIG_BYTES = 256_000
# An imported file may also carry outputs (images), so it gets more room than the draft alone.
MAX_IMPORT_BYTES = 32_000_000
# One collaborative-editing update a client may send at once; a keystroke batch is a few hundred bytes.
MAX_UPDATE_BYTES = 1_000_000
# The whole collaborative document, which every viewer receives on connecting: the sources at their limit, with
# room for the edit history a CRDT keeps. An update may also add content outside the sources, which nothing
# else would bound.
MAX_YDOC_BYTES = 2 * MAX_NOTEBOOK_BYTES

# ------------------------------------------------------------------ any JSON a client sends

# Real documents (Vega specs, nbformat outputs) nest a dozen levels; Python's parser gives up near 1,000.
MAX_JSON_DEPTH = 64

# ------------------------------------------------------------------ REST

# A request body: a draft at its full MAX_NOTEBOOK_BYTES, JSON-encoded (escaping newlines and quotes can double
# it), or an imported file. Django's DATA_UPLOAD_MAX_MEMORY_SIZE is this.
MAX_REQUEST_BYTES = max(2 * MAX_NOTEBOOK_BYTES, MAX_IMPORT_BYTES)
# The request line and headers together (Twisted's own default, which Daphne keeps); a longer URL gets a 414.
MAX_REQUEST_HEAD_BYTES = 16_384
# A list page holds at most this many items; a larger `limit` is lowered to it (defined with the pagination, below
# every app that lists).
MAX_PAGE_SIZE = PAGE_LIMIT

# ------------------------------------------------------------------ WebSocket

# A message the consumer reads: a cell's source at its limit with room for JSON escaping, or an update.
MAX_WS_MESSAGE_BYTES = 2 * 1024 * 1024
# What the server reads of one message before giving up on the connection (close code 1009): above the
# consumer's limit, so a message a little too large is answered with a `too_large` error, not a closed socket.
MAX_WS_TRANSPORT_BYTES = 2 * MAX_WS_MESSAGE_BYTES
# Entries in one `presence` event: it goes to every viewer whenever anyone's focus changes.
MAX_PRESENCE_ENTRIES = 100
# One end of a `cursor` message's selection: a Yjs relative position (an item id and an association), base64. Such
# a position is about 20 characters; the bound keeps what every other viewer receives per caret move small.
MAX_CURSOR_POSITION_CHARS = 100
# An answer to a cell's input() or getpass(): a pasted paragraph or a key fits; the kernel holds it as one string.
MAX_INPUT_REPLY_CHARS = 64 * 1024
# The largest frame the server sends on account of outputs: they reach a browser as bounded heads plus references,
# so no output, however large, and no number of them brings a live event, a catch-up or a snapshot near this. (A
# snapshot also holds the sources and their CRDT state, which the draft's own limits above bound.)
MAX_WS_SEND_BYTES = MAX_WS_MESSAGE_BYTES

# ------------------------------------------------------------------ outputs

# One page of an output's text read through the REST API, in characters.
MAX_OUTPUT_PAGE_CHARS = 1024 * 1024
