def hello():
    """The most basic function."""
    print("Hello World!")
