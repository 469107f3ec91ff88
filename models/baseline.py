"""Training baselines: how each model input and the score were distributed over the training
rows, stored in the model's own metadata (`training_baseline`, compact JSON) so drift is
measured against the data the deployed file learned from, whichever version that is."""
import json

import numpy as np
import onnxruntime as ort

KEY = "training_baseline"
BINS = 10
FORMAT = 1


def numeric(values, bins=BINS):
    """Quantile bins. Edges are observed values (not interpolated, so counts stay whole numbers)
    at 6 significant digits; tied quantiles collapse into one edge, so a feature with few
    distinct values (counts, hours) gets fewer, wider bins."""
    x = np.asarray(values, dtype=np.float64)
    quantiles = np.quantile(x, np.linspace(0, 1, bins + 1), method="inverted_cdf")
    edges = np.unique([float(f"{q:.6g}") for q in quantiles])
    if len(edges) == 1:  # a constant column: one bin
        edges = np.array([edges[0], edges[0]])
    # Bin i holds edges[i] <= x < edges[i+1]; the outer bins are open-ended, as at serving time.
    index = np.searchsorted(edges[1:-1], x, side="right")
    counts = np.bincount(index, minlength=len(edges) - 1)
    return {"edges": [float(e) for e in edges], "proportions": _proportions(counts)}


def categorical(values):
    cats, counts = np.unique(np.asarray(values, dtype=np.float64), return_counts=True)
    return {"categories": [int(c) if float(c).is_integer() else float(c) for c in cats], "proportions": _proportions(counts)}


def _proportions(counts):
    # 8 decimals: compact, and the sum stays within 1e-7 of 1 for any number of bins here.
    return [round(float(c) / float(np.sum(counts)), 8) for c in counts]


def compute(x_train, features, categorical_features, scores):
    return {"format": FORMAT, "rows": int(len(x_train)), "bins": BINS,
            "features": {f: categorical(x_train[:, i]) if f in categorical_features else numeric(x_train[:, i])
                         for i, f in enumerate(features)},
            "score": numeric(scores)}


def attach(model, x_train, features, categorical_features=()):
    """Scores the training rows with the finished graph (the float32 scores streamscore will see,
    not scikit-learn's) and appends the baseline as the last metadata entry: the bytes before
    it are those of the model without a baseline."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    scores = session.run(["score"], {"features": x_train})[0]
    baseline = compute(x_train, features, set(categorical_features), scores)
    entry = model.metadata_props.add()
    entry.key, entry.value = KEY, json.dumps(baseline, separators=(",", ":"))
    return baseline


def card_section(baseline):
    """The model card's "Training baseline" section: where the baseline is and how to read it."""
    score_bins = len(baseline["score"]["proportions"])
    kinds = [f"`{name}` ({len(b['proportions'])} {'categories' if 'categories' in b else 'bins'})"
             for name, b in baseline["features"].items()]
    has_categories = any("categories" in b for b in baseline["features"].values())
    lines = ["## Training baseline", "",
             f"Metadata `{KEY}` holds, as compact JSON, the distribution of each input and of the score over the "
             f"{baseline['rows']} training rows, for drift monitoring: "
             '`{"format":1,"rows":N,"bins":10,"features":{"<feature>":…},"score":…}`.', "",
             f"- numeric: `{{\"edges\":[e0,…,ek],\"proportions\":[p1,…,pk]}}`, up to {baseline['bins']} quantile bins "
             "(tied quantiles merged, so counts and hours get fewer; edges at 6 significant digits). Bin i holds edges[i] ≤ x < edges[i+1]; "
             "e0 and ek are the training minimum and maximum, and a value outside them counts in the first or last bin."]
    if has_categories:
        lines.append("- categorical (one-hot inputs and 0/1 flags): `{\"categories\":[…],\"proportions\":[…]}`, values as the model sees them; "
                     "a value not listed had proportion 0 in training.")
    lines += [f"- `score`: {score_bins} numeric bins of the ONNX score on the training rows"
              + (" (many rows share exactly the same score, so its quantiles tie)." if score_bins < baseline["bins"] else "."), "",
              "Proportions sum to 1. Here: " + ", ".join(kinds) + ".", ""]
    return lines
