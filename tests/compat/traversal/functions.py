def raise_exception():
    raise Exception("This step fails on purpose")


def clean_up():
    print("cleaning up after the failure")
