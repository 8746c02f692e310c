#!/usr/bin/python3
"""Prints the C# and PyTorch APGD-T results side by side from a crosscheck results folder and
fails (exit 1) when they differ by more than the tolerance (1.5 points)."""
import glob
import json
import sys

folder = sys.argv[1]
tolerance = 0.015
worst = 0.0
print("| seed | images | clean (C#) | clean (PyTorch) | APGD-T (C#) | APGD-T (PyTorch) | difference |")
print("|---|---|---|---|---|---|---|")
for path in sorted(glob.glob(f"{folder}/python-seed*.json")):
    seed = path.rsplit("seed", 1)[1].split(".")[0]
    python = json.load(open(path))
    csharp = json.load(open(f"{folder}/csharp-seed{seed}.json"))
    attack = next(a for a in csharp["attacks"] if a["name"] == "apgd-t")
    difference = attack["accuracy"] - python["apgdT"]
    worst = max(worst, abs(difference))
    print(f"| {seed} | {python['examples']} | {100 * csharp['clean']:.1f}% | {100 * python['clean']:.1f}% | "
          f"{100 * attack['accuracy']:.1f}% | {100 * python['apgdT']:.1f}% | {100 * difference:+.1f} points |")
print(f"\nlargest difference {100 * worst:.1f} points (tolerance {100 * tolerance:.1f})")
sys.exit(0 if worst <= tolerance else 1)
