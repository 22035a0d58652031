"""Log filters."""

from __future__ import annotations

import logging

from core.context import current_request_id


class RequestIdFilter(logging.Filter):
    """Names the current request on every log line (`requestId`), when there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "requestId"):
            request_id = current_request_id()
            if request_id is not None:
                record.requestId = request_id
        return True
