"""The gateway: a reverse proxy in front of the vendors' APIs that records every answer.

app        the ASGI app: routing, access, forwarding, capture (a raw ASGI callable)
routes     path normalisation and the route table (recorded, metadata, pass-through, refused)
admission  request bodies: size and time limits, strict JSON judging of what is sent
redact     secrets (passwords in URLs, vendor keys, the admin token) masked in every output
serving    uvicorn settings and the header deadline
upstream   the HTTP client interface to the vendors (httpx behind a small Protocol)

access     keys, grants, team rules and budget admission; refusals in the vendor's error format
spend      budget spend: settled, spooled and reserved, journalled in spend.log
spool      the fsync'd local spool (group commit) every output reaches before its last event
drain      the background writer moving the spool into the ledger, with retries

Each vendor's wire format (parsers, tool calls, usage, prices) lives in
:mod:`distillguard.capture.wire`, shared with the transcript importers and the hooks.
"""
