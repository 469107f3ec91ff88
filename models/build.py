"""Rebuilds models/*.onnx, their model cards and the golden fixtures from generated data.

    npm run models        (creates .cache/models-venv from models/requirements.txt)

Fixed seeds: two runs give the same data, the same metrics and the same reference scores."""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, IsolationForest
from sklearn.metrics import precision_recall_curve, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import baseline
import cards
import datagen

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "test" / "fixtures"
OPSET = {"": 17, "ai.onnx.ml": 3}


def log(msg):
    print(f"[models] {msg}", flush=True)


def with_score_output(model, source_output, make_nodes, name, version, features, threshold, doc):
    """Appends nodes that turn the converter's output into one float32 `score` of shape [N]
    and records what streamscore reads from the model: feature order, name, version, threshold."""
    graph = model.graph
    nodes, inits = make_nodes(source_output)
    graph.node.extend(nodes)
    graph.initializer.extend(inits)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"]))
    graph.input[0].name = "features"
    for node in graph.node:
        node.input[:] = ["features" if i == "X" else i for i in node.input]
    model.doc_string = doc
    model.model_version = int(version.split(".")[0])
    for key, value in {"feature_names": ",".join(features), "model_name": name, "model_version": version,
                       "alert_threshold": f"{threshold:.6f}"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


def choose_threshold(y, score, min_precision):
    """The lowest threshold whose precision on validation data is at least `min_precision`:
    as many alerts caught as analysts can trust."""
    order = np.argsort(-score)
    tp = np.cumsum(y[order])
    precision = tp / np.arange(1, len(y) + 1)
    ok = np.where(precision >= min_precision)[0]
    k = ok.max() if len(ok) else 0
    return float(score[order][k])


def best_f1_threshold(y, score):
    """The threshold with the best F1 on validation data: misses and false alarms weighed alike."""
    precision, recall, thresholds = precision_recall_curve(y, score)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def metrics(y, score, threshold):
    pred = (score >= threshold).astype(int)
    return {"rocAuc": round(float(roc_auc_score(y, score)), 4),
            "precision": round(float(precision_score(y, pred, zero_division=0)), 4),
            "recall": round(float(recall_score(y, pred)), 4),
            "positives": int(y.sum()), "rows": int(len(y)), "alerts": int(pred.sum())}


def ort_scores(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["score"], {"features": x})[0]


def fraud_data():
    log("fraud: generating transactions")
    train_ev, y_train = datagen.transactions(60_000, 0.02, seed=11)
    val_ev, y_val = datagen.transactions(20_000, 0.02, seed=12)
    test_ev, y_test = datagen.transactions(20_000, 0.02, seed=13)
    x_train, x_val, x_test = (datagen.fraud_matrix(e) for e in (train_ev, val_ev, test_ev))
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test), "test_events": test_ev}


def fraud_preprocessing():
    f = datagen.FRAUD_FEATURES
    numeric = [f.index(c) for c in f if c not in FRAUD_ONE_HOT]
    return ColumnTransformer([
        ("num", StandardScaler(), numeric),
        ("mcc", OneHotEncoder(categories=[sorted(float(c) for c in datagen.MCC)], handle_unknown="ignore", sparse_output=False), [f.index("merchantCategory")]),
        ("channel", OneHotEncoder(categories=[[float(i) for i in range(len(datagen.CHANNELS))]], handle_unknown="ignore", sparse_output=False), [f.index("channel")]),
    ])


FRAUD_ONE_HOT = ("merchantCategory", "channel")
# Categorical for the baseline: the one-hot inputs and the 0/1 flags (bins of a flag say nothing more).
FRAUD_CATEGORICAL = FRAUD_ONE_HOT + ("foreignCountry", "knownDevice")


def build_fraud(data, clf, version, file, doc):
    """Both fraud versions: the same data, preprocessing and contract (features [N,10] -> score
    = P(fraud)); only the classifier differs, so a swap between them is a pure version change."""
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data["train"], data["val"], data["test"]
    f = datagen.FRAUD_FEATURES
    pipe = Pipeline([("pre", fraud_preprocessing()), ("clf", clf)])
    log(f"fraud {version}: training {type(clf).__name__} with scaling and one-hot encoding in the pipeline")
    pipe.fit(x_train, y_train)
    onx = to_onnx(pipe, x_train[:1], target_opset=OPSET, options={id(pipe.steps[-1][1]): {"zipmap": False}})
    prob_name = onx.graph.output[1].name

    def take_positive(src):
        idx = helper.make_tensor("positive_class", TensorProto.INT64, [], [1])
        return [helper.make_node("Gather", [src, "positive_class"], ["score"], axis=1)], [idx]

    val_score = pipe.predict_proba(x_val)[:, 1]
    threshold = choose_threshold(y_val, val_score, min_precision=0.90)
    model = with_score_output(onx, prob_name, take_positive, "fraud-gbdt", version, f, threshold, doc)
    base = baseline.attach(model, x_train, f, FRAUD_CATEGORICAL)
    path = HERE / file
    onnx.save(model, path)
    test_score = ort_scores(path, x_test)
    diffs = np.abs(test_score - pipe.predict_proba(x_test)[:, 1])
    skl_diff = {"max": float(diffs.max()), "p99": float(np.quantile(diffs, 0.99))}
    return {"path": path, "threshold": threshold, "val": metrics(y_val, val_score, threshold),
            "test": metrics(y_test, test_score, threshold), "sklearnOnnxMaxDiff": skl_diff, "baseline": base,
            "fixture": (data["test_events"][:400], x_test[:400], test_score[:400], y_test[:400])}


def build_fraud_v1(data):
    clf = GradientBoostingClassifier(n_estimators=150, learning_rate=0.1, max_depth=3, subsample=0.8, random_state=7)
    return build_fraud(data, clf, "1.0.0", "fraud.onnx",
                       "Card fraud classifier (gradient-boosted trees); input: features [N,10] float32 in feature_names order; output: score [N] = P(fraud).")


def build_fraud_v2(data):
    # Same learner, other hyper-parameters: more, deeper trees at a slower rate, each on 70 % of
    # the rows and of the features. (HistGradientBoosting would be the obvious other learner, but
    # skl2onnx 1.20 with onnx 1.23 fails to convert it: a uint8 list in an ints attribute.)
    clf = GradientBoostingClassifier(n_estimators=250, learning_rate=0.05, max_depth=4, subsample=0.7,
                                     max_features=0.7, min_samples_leaf=20, random_state=17)
    return build_fraud(data, clf, "2.0.0", "fraud-v2.onnx",
                       "Card fraud classifier (gradient-boosted trees, 2.0.0: 250 trees of depth 4); input: features [N,10] float32 in feature_names order; output: score [N] = P(fraud).")


def build_anomaly():
    log("iot: generating sensor readings")
    train_ev, _ = datagen.sensor_readings(40_000, 0.0, seed=21)  # normal behaviour only
    val_ev, y_val = datagen.sensor_readings(20_000, 0.03, seed=22)
    test_ev, y_test = datagen.sensor_readings(20_000, 0.03, seed=23)
    x_train, x_val, x_test = (datagen.sensor_matrix(e) for e in (train_ev, val_ev, test_ev))
    # Whitening first: a reading whose channels disagree (a drift or a stuck sensor at normal
    # load) lands far out on a minor principal component, where the forest isolates it fast.
    forest = Pipeline([("scale", StandardScaler()), ("whiten", PCA(whiten=True, random_state=5)),
                       ("forest", IsolationForest(n_estimators=150, max_samples=512, random_state=5))]).fit(x_train)
    log("iot: scaler + PCA whitening + isolation forest trained on normal readings")
    onx = isolation_forest_onnx(forest, x_train[:1])

    val_score = -forest.score_samples(x_val)
    threshold = best_f1_threshold(y_val, val_score)
    model = with_score_output(onx, "depth_sum", anomaly_score(forest.steps[-1][1]), "pump-isoforest", "1.0.0", datagen.SENSOR_FEATURES, threshold,
                              "Pump anomaly detector (scaling, PCA whitening and an isolation forest as one tree ensemble, trained on normal behaviour); input: features [N,4] float32; output: score [N], the isolation anomaly score.")
    base = baseline.attach(model, x_train, datagen.SENSOR_FEATURES)
    path = HERE / "pump-anomaly.onnx"
    onnx.save(model, path)
    test_score = ort_scores(path, x_test)
    diffs = np.abs(test_score + forest.score_samples(x_test))
    skl_diff = {"max": float(diffs.max()), "p99": float(np.quantile(diffs, 0.99))}
    return {"path": path, "threshold": threshold, "val": metrics(y_val, val_score, threshold),
            "test": metrics(y_test, test_score, threshold), "sklearnOnnxMaxDiff": skl_diff, "baseline": base,
            "fixture": (test_ev[:400], x_test[:400], test_score[:400], y_test[:400])}


def isolation_forest_onnx(pipeline, x_sample):
    """The preprocessing steps through skl2onnx, then the whole forest as ONE TreeEnsembleRegressor
    whose leaves hold their path lengths (depth + c(leaf size), as scikit-learn computes them),
    summed over trees. skl2onnx's own IsolationForest converter emits ~4,000 nodes (a subgraph
    per tree), which costs milliseconds per run even for one row."""
    pre = to_onnx(Pipeline(pipeline.steps[:-1]), x_sample, target_opset=OPSET)
    forest = pipeline.steps[-1][1]
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                         "nodes_truenodeids", "nodes_falsenodeids", "target_treeids", "target_nodeids", "target_ids", "target_weights")}
    for t, estimator in enumerate(forest.estimators_):
        tree = estimator.tree_
        path_lengths = forest._decision_path_lengths[t] + forest._average_path_length_per_tree[t] - 1.0
        for node in range(tree.node_count):
            leaf = tree.children_left[node] == -1
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(node)
            a["nodes_featureids"].append(0 if leaf else int(tree.feature[node]))
            a["nodes_values"].append(0.0 if leaf else float(tree.threshold[node]))
            a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            a["nodes_truenodeids"].append(0 if leaf else int(tree.children_left[node]))
            a["nodes_falsenodeids"].append(0 if leaf else int(tree.children_right[node]))
            if leaf:
                a["target_treeids"].append(t)
                a["target_nodeids"].append(node)
                a["target_ids"].append(0)
                a["target_weights"].append(float(path_lengths[node]))
    pre.graph.node.append(helper.make_node("TreeEnsembleRegressor", [pre.graph.output[0].name], ["depth_sum"], domain="ai.onnx.ml",
                                           n_targets=1, aggregate_function="SUM", post_transform="NONE", **a))
    return pre


def anomaly_score(forest):
    """score = 2^(-mean path length / c(max_samples)) = -score_samples: the anomaly score of
    Liu et al., in (0, 1], higher meaning more anomalous."""
    from sklearn.ensemble._iforest import _average_path_length
    denominator = len(forest.estimators_) * float(_average_path_length([forest._max_samples])[0])

    def make(src):
        consts = [helper.make_tensor("neg_inv_denominator", TensorProto.FLOAT, [], [-1.0 / denominator]),
                  helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
                  helper.make_tensor("squeeze_axes", TensorProto.INT64, [1], [1])]
        return [helper.make_node("Mul", [src, "neg_inv_denominator"], ["neg_depth_ratio"]),
                helper.make_node("Pow", ["two", "neg_depth_ratio"], ["score_2d"]),
                helper.make_node("Squeeze", ["score_2d", "squeeze_axes"], ["score"])], consts
    return make


def write_fixture(name, result):
    events, _x, scores, labels = result["fixture"]
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with open(FIXTURES / f"{name}-golden.jsonl", "w") as fh:
        for event, score, label in zip(events, scores, labels):
            fh.write(json.dumps({"event": event, "score": float(score), "label": int(label)}) + "\n")


def main():
    data = fraud_data()
    fraud = build_fraud_v1(data)
    fraud_v2 = build_fraud_v2(data)
    iot = build_anomaly()
    write_fixture("fraud", fraud)
    write_fixture("iot", iot)
    results = (("fraud", fraud), ("fraud-v2", fraud_v2), ("iot", iot))
    summary = {name: {k: v for k, v in r.items() if k not in ("fixture", "path")} for name, r in results}
    # The baselines live in the models and their cards; metrics.json keeps to the numbers.
    (HERE / "metrics.json").write_text(json.dumps({n: {k: v for k, v in r.items() if k != "baseline"} for n, r in summary.items()}, indent=2) + "\n")
    cards.write_card("fraud", summary["fraud"])
    cards.write_card("fraud-v2", summary["fraud-v2"], previous=("1.0.0", summary["fraud"]))
    cards.write_card("iot", summary["iot"])
    for name, r in summary.items():
        log(f"{name}: threshold {r['threshold']:.4f}  test {r['test']}  sklearn-vs-onnx diff {r['sklearnOnnxMaxDiff']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
