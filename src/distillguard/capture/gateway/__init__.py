"""The gateway: a reverse proxy in front of the vendors' APIs that records every answer.

app        the ASGI app: routing, access, forwarding, capture (a raw ASGI callable)
routes     path normalisation and the route table (recorded, metadata, pass-through, refused)
admission  request bodies: size and time limits, strict JSON judging of what is sent
redact     secrets (passwords in URLs, vendor keys, the admin token) masked in every output
serving    uvicorn settings and the header deadline
upstream   the HTTP client interface to the vendors (httpx behind a small Protocol)
parsers/   one module per wire format: rebuild the output from the bytes passing through
tools      what a tool call adds (Write.content, Edit.new_string, apply_patch '+' lines)
pricing    the versioned price table and the cost of one answer
access     keys, grants, team rules and budget admission; refusals in the vendor's error format
spend      budget spend: settled, spooled and reserved, journalled in spend.log
spool      the fsync'd local spool (group commit) every output reaches before its last event
drain      the background writer moving the spool into the ledger, with retries
"""
