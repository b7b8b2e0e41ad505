"""What the kubelet does to a container's ``command``, ``args`` and env ``value`` strings.

A port of Kubernetes' ``third_party/forked/golang/expansion`` (``Expand`` and
``tryReadVariableName``), byte for byte: ``$(NAME)`` becomes the value of a variable the
container defines (left as written when it defines none), ``$$`` becomes ``$``, and a
``$`` followed by any other byte is copied with that byte, which Go converts as the code
point of the *byte* (so ``$é`` comes out mangled: one more reason to write ``$$``). The
test players (``argo_player.py``, ``k8s_fake_api.py``) run every command through this, so
a spec that forgot to escape a ``$`` fails its tests as it would fail on a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def expand(text: str, variables: Mapping[str, str]) -> str:
    """``text`` as the container sees it, given the variables it defines."""
    data = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    checkpoint = 0
    cursor = 0
    while cursor < len(data):
        if data[cursor] == ord("$") and cursor + 1 < len(data):
            out += data[checkpoint:cursor]
            rest = data[cursor + 1 :]
            if rest[0] == ord("$"):
                out += b"$"
                advance = 1
            elif rest[0] == ord("("):
                close = rest.find(b")", 1)
                if close == -1:  # incomplete reference: "$(" kept, the rest copied as is
                    out += b"$("
                    advance = 1
                else:
                    name = rest[1:close].decode("utf-8", "surrogateescape")
                    found = variables.get(name)
                    out += f"$({name})".encode() if found is None else found.encode()
                    advance = close + 1
            else:  # Go: string(operator) + string(input[0]) with input[0] a byte
                out += b"$" + chr(rest[0]).encode("utf-8")
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out += data[checkpoint:]
    return out.decode("utf-8", "surrogateescape")


def container_env(
    entries: Sequence[Mapping[str, Any]], resolved: Mapping[str, str]
) -> dict[str, str]:
    """The container's variables in order: each ``value`` expanded with those before it
    (as the kubelet does); ``resolved`` gives the values of ``valueFrom`` entries."""
    variables: dict[str, str] = {}
    for entry in entries:
        name = entry["name"]
        if "value" in entry:
            variables[name] = expand(str(entry["value"]), variables)
        elif name in resolved:
            variables[name] = resolved[name]
    return variables


def expand_command(words: Sequence[str], variables: Mapping[str, str]) -> list[str]:
    """``command`` + ``args`` words as the process receives them."""
    return [expand(word, variables) for word in words]
