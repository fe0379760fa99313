"""Sans-io HTTP/1.1 parsing: bytes in, events out, no sockets.

:class:`RequestParser` and :class:`ResponseParser` wrap the ``httptools`` (llhttp) parsers in
strict mode. They turn bytes into calls on a *sink* (``on_request``/``on_request_body``/
``on_request_end`` and ``on_response``/``on_response_body``/``on_response_end``), so the asyncio
layer and the tests drive them the same way. llhttp already rejects header folding (obs-fold),
``Content-Length`` together with ``Transfer-Encoding``, duplicate ``Content-Length`` and a
``Transfer-Encoding`` that does not end in ``chunked``; these become :class:`ProtocolError` 400,
the request-smuggling defences HAProxy applies too. Header names are lower-cased, as HAProxy's
HTX does, so the rewriter compares them without further work.
"""

from __future__ import annotations

from typing import Final, Protocol

import httptools

from balancer.errors import BadResponse, ProtocolError

Headers = list[tuple[bytes, bytes]]

_IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})


class RequestHead:
    """A parsed request line and header block."""

    __slots__ = (
        "chunked",
        "content_length",
        "expect_continue",
        "headers",
        "keep_alive",
        "method",
        "target",
        "version",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        version: str,
        headers: Headers,
        *,
        keep_alive: bool,
        chunked: bool,
        content_length: int | None,
        expect_continue: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self.chunked = chunked
        self.content_length = content_length
        self.expect_continue = expect_continue

    @property
    def idempotent(self) -> bool:
        return self.method in _IDEMPOTENT

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    def __repr__(self) -> str:
        target = self.target.decode("latin-1")
        return f"<RequestHead {self.method.decode()} {target} HTTP/{self.version}>"


class ResponseHead:
    """A parsed status line and header block."""

    __slots__ = ("chunked", "content_length", "headers", "keep_alive", "reason", "status")

    def __init__(
        self,
        status: int,
        reason: bytes,
        headers: Headers,
        *,
        keep_alive: bool,
        chunked: bool,
        content_length: int | None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.keep_alive = keep_alive
        self.chunked = chunked
        self.content_length = content_length

    def __repr__(self) -> str:
        return f"<ResponseHead {self.status} {self.reason.decode('latin-1')}>"


class RequestSink(Protocol):
    def on_request(self, head: RequestHead) -> None: ...
    def on_request_body(self, data: bytes) -> None: ...
    def on_request_end(self) -> None: ...


class ResponseSink(Protocol):
    def on_response(self, head: ResponseHead) -> None: ...
    def on_response_body(self, data: bytes) -> None: ...
    def on_response_end(self) -> None: ...


def _content_length(value: bytes) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ProtocolError(f"invalid Content-Length {value!r}")
    return int(value)


class RequestParser:
    """Parses a stream of pipelined requests into sink events.

    ``max_header_size`` bounds the request line plus headers (431 beyond it); a head that is
    still incomplete after that many bytes is refused too, so a slow or endless header
    cannot grow memory. ``in_head`` says whether a request head has begun and is incomplete.
    """

    __slots__ = (
        "_chunked",
        "_content_length",
        "_expect",
        "_head_size",
        "_headers",
        "_hosts",
        "_max_header_size",
        "_parser",
        "_url",
        "in_head",
        "sink",
    )

    def __init__(self, sink: RequestSink, *, max_header_size: int) -> None:
        self.sink = sink
        self._max_header_size = max_header_size
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: Headers = []
        self._head_size = 0
        self._chunked = False
        self._content_length: int | None = None
        self._expect = False
        self._hosts = 0
        self.in_head = False

    def feed(self, data: bytes) -> None:
        """Parse ``data``; raises :class:`ProtocolError` for input that must be refused."""
        if self.in_head:
            self._head_size += len(data)
            if self._head_size > self._max_header_size:
                raise ProtocolError("request header too large", status=431, code="header_too_large")
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, ProtocolError):
                raise exc.__context__ from None
            raise
        except httptools.HttpParserUpgrade as exc:
            raise ProtocolError(
                "protocol upgrades are not supported", status=501, code="upgrade_not_supported"
            ) from exc
        except httptools.HttpParserError as exc:
            raise ProtocolError(f"malformed request: {exc}") from exc
        if self.in_head and self._head_size > self._max_header_size:
            raise ProtocolError("request header too large", status=431, code="header_too_large")

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.in_head = True
        self._url = b""
        self._headers = []
        self._head_size = 0
        self._chunked = False
        self._content_length = None
        self._expect = False
        self._hosts = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:
            # A trailer field of a chunked body. It is dropped, as nginx does: appended to
            # the head it would let a body rewrite the request's Host or add headers the
            # balancer never checked (the head may not have been forwarded yet).
            return
        self._head_size += len(name) + len(value) + 4
        if self._head_size > self._max_header_size:
            raise ProtocolError("request header too large", status=431, code="header_too_large")
        name = name.lower()
        if name == b"content-length":
            self._content_length = _content_length(value)
        elif name == b"transfer-encoding":
            self._chunked = True
        elif name == b"expect":
            if value.lower() != b"100-continue":
                raise ProtocolError("unsupported Expect", status=417, code="expectation_failed")
            self._expect = True
        elif name == b"host":
            self._hosts += 1
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        parser = self._parser
        if parser.should_upgrade():
            # Refused here, before the sink sees the request: llhttp reports the upgrade
            # only after this callback, by which time the request would have been sent on.
            raise ProtocolError(
                "protocol upgrades are not supported", status=501, code="upgrade_not_supported"
            )
        # RFC 9112 §3.2: an HTTP/1.1 request needs exactly one Host, and no request may
        # carry two: backends and caches would disagree about which one names the target.
        version = parser.get_http_version()
        if self._hosts > 1 or (self._hosts == 0 and version == "1.1"):
            raise ProtocolError(
                "a request needs exactly one Host header"
                if version == "1.1"
                else "a request may carry at most one Host header",
                code="invalid_host",
            )
        self.sink.on_request(
            RequestHead(
                parser.get_method(),
                self._url,
                version,
                self._headers,
                keep_alive=parser.should_keep_alive(),
                chunked=self._chunked,
                content_length=self._content_length,
                expect_continue=self._expect,
            )
        )

    def on_body(self, body: bytes) -> None:
        self.sink.on_request_body(body)

    def on_message_complete(self) -> None:
        self.sink.on_request_end()


class ResponseParser:
    """Parses responses from one upstream connection into events for ``sink``.

    The sink changes with each exchange. llhttp cannot be told that a response answers a
    HEAD request, so the exchange ends such a response itself at its head, and the
    connection is not reused (its parser would wait for the announced body).
    """

    __slots__ = ("_chunked", "_content_length", "_headers", "_parser", "_reason", "sink")

    def __init__(self, sink: ResponseSink | None = None) -> None:
        self.sink = sink
        self._parser = httptools.HttpResponseParser(self)
        self._reason = b""
        self._headers: Headers = []
        self._chunked = False
        self._content_length: int | None = None

    def feed(self, data: bytes) -> None:
        """Parse ``data``; raises :class:`BadResponse` for invalid HTTP."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, BadResponse):
                raise exc.__context__ from None
            raise
        except httptools.HttpParserError as exc:
            raise BadResponse(f"invalid response from backend: {exc}") from exc

    # No on_message_begin: httptools calls only the callbacks a parser defines, and the
    # state is reset at the end of each head instead, one call fewer per response.

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length":
            if not value.isdigit() or len(value) > 18:
                raise BadResponse(f"invalid Content-Length {value!r} from backend")
            self._content_length = int(value)
        elif name == b"transfer-encoding":
            self._chunked = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        if self.sink is None:
            raise BadResponse("response without a request")
        head = ResponseHead(
            parser.get_status_code(),
            self._reason,
            self._headers,
            keep_alive=parser.should_keep_alive(),
            chunked=self._chunked,
            content_length=self._content_length,
        )
        self._reason = b""
        self._headers = []
        self._chunked = False
        self._content_length = None
        self.sink.on_response(head)

    # A response already finished by the exchange (HEAD) may still deliver events: ignored.

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.on_response_body(body)

    def on_message_complete(self) -> None:
        if self.sink is not None:
            self.sink.on_response_end()
