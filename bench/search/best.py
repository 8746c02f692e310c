#!/usr/bin/env python3
"""Reads the search's JSON summaries (bench/search/run.sh).

best.py OUT PREFIX            the name of the best run whose name starts with PREFIX
best.py OUT PREFIX --recipe   that run's recipe as train arguments
best.py OUT PREFIX --table    a Markdown table of every run, best first

"Best" is the validation worst case of the gate's suite (apgd-ce+apgd-t3), then clean accuracy.
A run trained without --partners (stage A) takes its share against the fixed partners from
NAME-partners.eval.json, an `evaluate --partners --json` of its checkpoint, when there is one.
"""
import json
import os
import sys

SUITE = "apgd-ce+apgd-t3"
SCHEDULES = {0: "step", 1: "cosine", 2: "onecycle"}


def runs(folder, prefix):
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json") and not name.endswith(".eval.json") and name.startswith(prefix):
            with open(os.path.join(folder, name)) as f:
                summary = json.load(f)
            evaluation = summary["evaluation"]
            assert evaluation.get("split") == "validation", f"{name} was not measured on validation"
            attacks = {a["name"]: a["accuracy"] for a in evaluation["attacks"]}
            scored = os.path.join(folder, name[: -len(".json")] + "-partners.eval.json")
            if evaluation.get("fixedPartnerShare") is None and os.path.exists(scored):
                with open(scored) as f:
                    evaluation = dict(evaluation, fixedPartnerShare=json.load(f)["fixedPartnerShare"])
            yield name[: -len(".json")], summary, evaluation, attacks


def recipe(summary):
    manifest_path = os.path.join(summary["checkpoint"], "manifest.json")
    with open(manifest_path) as f:
        hyper = json.load(f)["training"]["hyperParameters"]
    args = ["--learning-rate", repr(hyper["learningRate"]), "--weight-decay", repr(hyper["weightDecay"]),
            "--schedule", SCHEDULES[int(hyper.get("schedule", 0))]]
    args += ["--ema", repr(hyper.get("ema", 0))]
    return " ".join(args)


def main():
    folder, prefix = sys.argv[1], sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    ranked = sorted(runs(folder, prefix), key=lambda r: (r[3].get(SUITE, 0), r[2]["clean"]), reverse=True)
    if mode == "--table":
        print(f"| run | method | clean | APGD-CE | {SUITE} (worst case) | hard-pair share (fixed partners, APGD-CE) | train s |")
        print("|---|---|---|---|---|---|---|")
        for name, summary, evaluation, attacks in ranked:
            share = evaluation.get("fixedPartnerShare")
            share_text = "—" if share is None else f"{share:.3f}"
            print(f"| {name} | {summary['method']} | {evaluation['clean']:.1%} | {attacks.get('apgd-ce', 0):.1%} | "
                  f"{attacks.get(SUITE, 0):.1%} | {share_text} | {summary['trainSeconds']:.0f} |")
        return
    name, summary, _, _ = ranked[0]
    print(recipe(summary) if mode == "--recipe" else name)


if __name__ == "__main__":
    main()
