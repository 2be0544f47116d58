import uuid


def new_request_id(prefix="req"):
    """A short unique id for log correlation."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
