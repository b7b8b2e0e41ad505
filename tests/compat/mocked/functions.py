def expensive():
    raise RuntimeError("too expensive to run in a test: the mocked executor skips it")


def real():
    raise RuntimeError("replaced by a patch")


def patched():
    return {"patched": True}
