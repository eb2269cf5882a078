"""One table per run: rows are metrics, columns are systems, plus each metric's ratio to
the best peer and the goal. Written as Markdown (for people) and JSON (for tools).

The ratio compares the best cuvee column that runs the same way as the peers: in process
for single-query latency (the peers are all in-process engines), through HTTP for the QPS
rows (cuvee's clients come over the network; the peers' run as threads in the harness, an
advantage to them). A ratio above 1 means cuvee is better by that factor."""

import json


def metric(name, values, *, better="lower", unit="ms", goal=None, cuvee=None, reference=None):
    """values: {system: number or None}. cuvee: which column(s) stand for cuvee in the ratio;
    reference: a fixed value to compare with instead of the best peer (sizes vs Parquet)."""
    return {"metric": name, "values": values, "better": better, "unit": unit, "goal": goal, "cuvee": cuvee or [], "reference": reference}


def ratio(m, peers):
    ours = [m["values"].get(c) for c in m["cuvee"] if m["values"].get(c) is not None]
    if not ours:
        return None
    lower = m["better"] == "lower"
    best_ours = min(ours) if lower else max(ours)
    if m["reference"] is not None:
        theirs = m["reference"]
    else:
        peer_values = [m["values"][p] for p in peers if m["values"].get(p) is not None]
        if not peer_values:
            return None
        theirs = min(peer_values) if lower else max(peer_values)
    if not best_ours or not theirs:
        return None
    return theirs / best_ours if lower else best_ours / theirs


def goal_met(m):
    goal = m["goal"]
    if not goal:
        return None
    ours = [m["values"].get(c) for c in m["cuvee"] if m["values"].get(c) is not None]
    if not ours:
        return None
    best = min(ours) if m["better"] == "lower" else max(ours)
    kind, target = goal
    if kind == "reference_times":
        return best <= target * m["reference"]
    return best <= target if kind == "max" else best >= target


def _cell(value, unit):
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if unit in ("rows/s", "qps"):
        return f"{value:,.0f}"
    if unit in ("s",):
        return f"{value:.1f}"
    return f"{value:,.1f}"


def _goal_text(goal, unit):
    if not goal:
        return ""
    kind, target = goal
    return {"max": f"≤ {target:g} {unit}", "min": f"≥ {target:,g} {unit}", "ratio": f"≥ {target:g}× best peer", "reference_times": f"≤ {target:g}× Parquet+zstd"}[kind]


def finish(metrics, peers):
    for m in metrics:
        m["ratio"] = ratio(m, peers)
        if m["goal"] and m["goal"][0] == "ratio":
            m["goal_met"] = m["ratio"] is not None and m["ratio"] >= m["goal"][1]
        else:
            m["goal_met"] = goal_met(m)
    return metrics


def markdown(facts, systems, metrics):
    lines = ["# cuvee vs DuckDB, chDB, DataFusion", ""]
    for key, value in facts.items():
        lines.append(f"- **{key}**: {value}")
    lines += ["", "| metric | " + " | ".join(systems) + " | cuvee vs best peer | goal |", "|---|" + "---:|" * len(systems) + "---:|---|"]
    for m in metrics:
        cells = [_cell(m["values"].get(s), m["unit"]) for s in systems]
        r = m.get("ratio")
        ratio_text = "—" if r is None else f"{r:.2f}×"
        met = m.get("goal_met")
        goal = _goal_text(m["goal"], m["unit"]) + ("" if met is None else (" ✓" if met else " ✗"))
        lines.append(f"| {m['metric']} ({m['unit']}) | " + " | ".join(cells) + f" | {ratio_text} | {goal} |")
    return "\n".join(lines) + "\n"


def write(out_dir, facts, systems, metrics, extra):
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(facts, systems, metrics)
    (out_dir / "results.md").write_text(text)
    (out_dir / "results.json").write_text(json.dumps({"facts": facts, "systems": systems, "metrics": metrics, **extra}, indent=1, default=str))
    return text
