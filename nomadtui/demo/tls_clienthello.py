"""Reading the server name from a TLS ClientHello without terminating TLS, as Fabio's tcp+sni
listener does (fabio proxy/tcp/tls_clienthello.go: clientHelloBufferSize, readServerName, and
the part of clientHelloMsg.unmarshal that reaches the server_name extension)."""

from __future__ import annotations

HEADER_SIZE = 9  # TLS record header (5) + handshake message header (4): what Fabio peeks at
MAX_RECORD = 16384
EXTENSION_SERVER_NAME = 0


def client_hello_buffer_size(header: bytes) -> int:
    """clientHelloBufferSize: the size of the record header plus the whole ClientHello, from the
    first 9 bytes; ValueError for anything else (not a handshake, not a ClientHello, a
    ClientHello fragmented over several records)."""
    if len(header) < HEADER_SIZE:
        raise ValueError("at least 9 bytes required to determine client hello length")
    if header[0] != 0x16:
        raise ValueError("not a TLS handshake")
    record_length = int.from_bytes(header[3:5], "big")
    if not 0 < record_length <= MAX_RECORD:
        raise ValueError("invalid TLS record length")
    if header[5] != 0x01:
        raise ValueError("not a client hello")
    handshake_length = int.from_bytes(header[6:9], "big")
    if not 0 < handshake_length <= record_length - 4:
        raise ValueError("invalid client hello length (fragmentation not implemented)")
    return handshake_length + HEADER_SIZE


def read_server_name(message: bytes) -> str | None:
    """readServerName: the host name of the server_name extension of a ClientHello handshake
    message (with its 4-byte header); "" when the extension is absent, None when the message
    does not parse."""
    data = message
    if len(data) < 42:
        return None
    session_id_length = data[38]
    if session_id_length > 32 or len(data) < 39 + session_id_length:
        return None
    data = data[39 + session_id_length :]
    if len(data) < 2:
        return None
    cipher_suites_length = int.from_bytes(data[:2], "big")
    if cipher_suites_length % 2 or len(data) < 2 + cipher_suites_length:
        return None
    data = data[2 + cipher_suites_length :]
    if len(data) < 1 or len(data) < 1 + data[0]:  # compression methods
        return None
    data = data[1 + data[0] :]
    if not data:
        return ""  # extensions are optional
    if len(data) < 2 or int.from_bytes(data[:2], "big") != len(data) - 2:
        return None
    return _server_name(data[2:])


def _server_name(extensions: bytes) -> str | None:
    name = ""
    data = extensions
    while data:
        if len(data) < 4:
            return None
        extension, length = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
        data = data[4:]
        if len(data) < length:
            return None
        if extension == EXTENSION_SERVER_NAME:
            found = _host_name(data[:length])
            if found is None:
                return None
            name = found or name
        data = data[length:]
    return name


def _host_name(extension: bytes) -> str | None:
    """The server_name extension's list: the first name of type host_name (0)."""
    if len(extension) < 2 or int.from_bytes(extension[:2], "big") != len(extension) - 2:
        return None
    names = extension[2:]
    while names:
        if len(names) < 3:
            return None
        name_type, name_length = names[0], int.from_bytes(names[1:3], "big")
        names = names[3:]
        if len(names) < name_length:
            return None
        if name_type == 0:
            return names[:name_length].decode("latin-1")  # Go's string(d[:nameLen]): the bytes as they are
        names = names[name_length:]
    return ""
