"""What the kubelet does to a container's command and args before it starts them.

Kubernetes expands ``$(NAME)`` to the value of a variable the container declares (left as
written when it declares none of that name) and reduces ``$$`` to ``$``; any other ``$``
stays. Test stand-ins for a kubelet (tests/k8s_fake_api.py, Argo plays) apply this, so a
rendered command that forgets to escape ``$`` fails as it would on a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping


def expand(word: str, declared: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(word):
        char = word[i]
        if char == "$" and i + 1 < len(word):
            following = word[i + 1]
            if following == "$":
                out.append("$")
                i += 2
                continue
            if following == "(":
                end = word.find(")", i + 2)
                if end != -1:
                    name = word[i + 2 : end]
                    out.append(declared[name] if name in declared else word[i : end + 1])
                    i = end + 1
                    continue
        out.append(char)
        i += 1
    return "".join(out)
