#!/usr/bin/env python3
"""Reference values for the HardPair training objectives (SPAT, TRADES, PGD-AT, hardpair).

What this is:
    A small, deterministic PyTorch computation of the SPAT (self-paced logits
    natural loss + HCP-ECP robust loss), TRADES and PGD-AT objectives on a tiny
    cosine-classifier head, together with their gradients with respect to the
    inputs x (clean) and x_adv (adversarial). The C# tests in
    tests/HardPair.Shared.Tests/ML/Objectives compare the C# implementations
    against the JSON this script writes.

How to regenerate (from the repository root; uses Debian's PyTorch 1.13):
    /usr/bin/python3 tests/reference/objectives_reference.py

Output:
    tests/HardPair.Shared.Tests/ML/Objectives/objectives_reference.json

All computation is float64 and seeded (torch.manual_seed(20261125)). A gradient
that does not exist for a case (the loss does not depend on that input) is
written as null.
"""

import json
import math
import os

import torch
import torch.nn.functional as F

SEED = 20261125
B, D, C = 4, 6, 5
S, M, N, BETA = 8.0, 0.2, 0.2, 6.0
BETA_HARDPAIR = 1.0
# hardpair's partner margin: a fixed partner map for the C = 5 classes, and delta.
PARTNERS = torch.tensor([1, 0, 3, 2, 2], dtype=torch.long)
DELTA = 0.3

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_PATH = os.path.join(
    REPO_ROOT, "tests", "HardPair.Shared.Tests", "ML", "Objectives", "objectives_reference.json"
)

torch.set_default_dtype(torch.float64)
torch.manual_seed(SEED)

x0 = torch.rand(B, D, dtype=torch.float64)
x_adv0 = x0 + 0.1 * torch.randn(B, D, dtype=torch.float64)
weight = torch.randn(C, D, dtype=torch.float64)
bias = 0.1 * torch.randn(C, dtype=torch.float64)
labels = torch.tensor([0, 3, 1, 4], dtype=torch.long)


def logits(v):
    """Cosine classifier head: normalize(v) @ normalize(W).T + b."""
    vn = F.normalize(v, p=2, dim=1, eps=1e-12)
    wn = F.normalize(weight, p=2, dim=1, eps=1e-12)
    return vn @ wn.T + bias


def spat_natural(z, z_adv, y):
    onehot = F.one_hot(y, C).to(z.dtype)
    alpha = onehot * (1 + M - z) + (1 - onehot) * (z + M)  # not detached, not clamped
    z_mod = S * alpha * z
    return F.cross_entropy(z_mod, y)


def spat_robust(z, z_adv, y):
    p = F.softmax(S * z, dim=1)
    k = p * (F.log_softmax(S * z, dim=1) - F.log_softmax(S * z_adv, dim=1))
    return (k * (k + N)).sum(dim=1).mean()


def spat_total(z, z_adv, y):
    return spat_natural(z, z_adv, y) + BETA * spat_robust(z, z_adv, y)


def trades_natural(z, z_adv, y):
    return F.cross_entropy(S * z, y)


def trades_robust(z, z_adv, y):
    return F.kl_div(
        F.log_softmax(S * z_adv, dim=1), F.softmax(S * z, dim=1), reduction="sum"
    ) / B


def trades_total(z, z_adv, y):
    return trades_natural(z, z_adv, y) + BETA * trades_robust(z, z_adv, y)


def pgd_at(z, z_adv, y):
    return F.cross_entropy(S * z_adv, y)


def self_paced(z, y, detach, clamp):
    onehot = F.one_hot(y, C).to(z.dtype)
    alpha = onehot * (1 + M - z) + (1 - onehot) * (z + M)
    if clamp:
        alpha = alpha.clamp(min=0)
    if detach:
        alpha = alpha.detach()
    return F.cross_entropy(S * alpha * z, y)


def hardpair_natural(z, z_adv, y):
    """hardpair: self-paced CE on the adversarial logits, alpha detached and clamped at 0."""
    return self_paced(z_adv, y, detach=True, clamp=True)


def hardpair_natural_detached(z, z_adv, y):
    return self_paced(z_adv, y, detach=True, clamp=False)


def hardpair_natural_clamped(z, z_adv, y):
    return self_paced(z_adv, y, detach=False, clamp=True)


def hardpair_partner_margin(z, z_adv, y):
    """hardpair's self-paced loss on adversarial logits whose partner entry is raised by delta."""
    raised = z_adv + DELTA * F.one_hot(PARTNERS[y], C).to(z_adv.dtype)
    return self_paced(raised, y, detach=True, clamp=True)


def hardpair_total(z, z_adv, y):
    return hardpair_natural(z, z_adv, y) + BETA_HARDPAIR * spat_robust(z, z_adv, y)


CASES = [
    ("spat_natural", spat_natural),
    ("spat_robust", spat_robust),
    ("spat_total", spat_total),
    ("trades_natural", trades_natural),
    ("trades_robust", trades_robust),
    ("trades_total", trades_total),
    ("pgd_at", pgd_at),
    ("hardpair_natural", hardpair_natural),
    ("hardpair_natural_detached", hardpair_natural_detached),
    ("hardpair_natural_clamped", hardpair_natural_clamped),
    ("hardpair_total", hardpair_total),
    ("hardpair_partner_margin", hardpair_partner_margin),
]


def to_list(t):
    return None if t is None else t.detach().tolist()


def run_case(fn):
    x = x0.clone().requires_grad_(True)
    x_adv = x_adv0.clone().requires_grad_(True)
    loss = fn(logits(x), logits(x_adv), labels)
    gx, gxa = torch.autograd.grad(loss, [x, x_adv], allow_unused=True)
    return {"loss": loss.item(), "grad_x": to_list(gx), "grad_x_adv": to_list(gxa)}


def main():
    with torch.no_grad():
        clean_logits = logits(x0)
        adv_logits = logits(x_adv0)

    cases = {name: run_case(fn) for name, fn in CASES}

    doc = {
        "batch": B,
        "features": D,
        "classes": C,
        "s": S,
        "m": M,
        "n": N,
        "beta": BETA,
        "beta_hardpair": BETA_HARDPAIR,
        "partners": PARTNERS.tolist(),
        "partner_margin": DELTA,
        "x": to_list(x0),
        "x_adv": to_list(x_adv0),
        "weight": to_list(weight),
        "bias": to_list(bias),
        "labels": labels.tolist(),
        "clean_logits": to_list(clean_logits),
        "adv_logits": to_list(adv_logits),
        "cases": cases,
        "generator": "tests/reference/objectives_reference.py",
        "torch_version": torch.__version__,
    }

    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

    # Sanity checks.
    for name, case in cases.items():
        assert math.isfinite(case["loss"]), f"{name}: loss not finite"
        for key in ("grad_x", "grad_x_adv"):
            g = case[key]
            if g is not None:
                assert all(math.isfinite(v) for row in g for v in row), f"{name}: {key} not finite"
    assert cases["spat_robust"]["loss"] > 0, "spat_robust loss must be > 0"

    print(f"wrote {os.path.relpath(OUT_PATH, REPO_ROOT)} (torch {torch.__version__})")
    for name, case in cases.items():
        has = [k for k in ("grad_x", "grad_x_adv") if case[k] is not None]
        print(f"  {name:15s} loss = {case['loss']!r:24s} grads: {', '.join(has)}")


if __name__ == "__main__":
    main()
