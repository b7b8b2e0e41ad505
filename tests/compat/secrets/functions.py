from magnus import get_secret


def use_secrets():
    assert get_secret("shh") == "top secret value"
    try:
        get_secret("absent")
    except Exception as exc:
        assert "absent" in str(exc)
    else:
        raise AssertionError("an unknown secret must raise")
