def regions():
    return {"regions": ["eu", "us"]}


def fit(region: str):
    return {"model": f"model-{region}"}


def evaluate(region: str):
    return {"score": len(region)}


def train(region: str):
    return {"trained": region.upper()}
