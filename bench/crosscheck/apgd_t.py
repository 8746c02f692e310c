#!/usr/bin/python3
"""An independent APGD-T (Croce & Hein 2020) in PyTorch, to check that the C# suite does not flatter.

Reads a HardPair checkpoint's model.bin directly (TorchSharp's state-dict format: no C# export
step), rebuilds the small-cnn with its cosine or linear head in PyTorch, and runs APGD on the
targeted DLR loss over the 9 most likely wrong classes, 100 iterations each, on the first N
Fashion-MNIST test images. Its random starts come from PyTorch's own generator, so agreement with
`evaluate --attacks apgd-t` is agreement between two implementations, not two runs of one.

    apt-get install python3-torch     # Debian 12: PyTorch 1.13 for /usr/bin/python3
    /usr/bin/python3 bench/crosscheck/apgd_t.py CHECKPOINT_DIR [--examples 500] [--seed 0]
"""
import argparse
import gzip
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
DTYPES = {6: (np.float32, 4), 7: (np.float64, 8), 4: (np.int64, 8), 3: (np.int32, 4)}


def varint(stream):
    value, shift = 0, 0
    while True:
        byte = stream.read(1)[0]
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value


def read_state(path):
    """TorchSharp's Module.save: count, then per entry a .NET string name and a tensor (dtype, rank, shape, raw bytes)."""
    state = {}
    with open(path, "rb") as stream:
        for _ in range(varint(stream)):
            name = stream.read(varint(stream)).decode("utf-8")
            dtype, size = DTYPES[varint(stream)]
            shape = [varint(stream) for _ in range(varint(stream))]
            count = int(np.prod(shape)) if shape else 1
            state[name] = torch.from_numpy(np.frombuffer(stream.read(count * size), dtype=dtype).copy().reshape(shape))
    return state


class SmallCnn(torch.nn.Module):
    """conv32 → pool → conv64 → pool → fc128 → head (cosine: normalised features · normalised rows + bias)."""

    def __init__(self, state, head):
        super().__init__()
        self.state = {k: v.float() for k, v in state.items()}
        self.head = head

    def forward(self, x):
        s = self.state
        x = F.max_pool2d(F.relu(F.conv2d(x, s["conv1.weight"], s["conv1.bias"], padding=1)), 2)
        x = F.max_pool2d(F.relu(F.conv2d(x, s["conv2.weight"], s["conv2.bias"], padding=1)), 2)
        x = F.relu(F.linear(x.flatten(1), s["fc1.weight"], s["fc1.bias"]))
        if self.head == "cosine":
            return F.normalize(x, dim=1) @ F.normalize(s["head.weight"], dim=1).t() + s["head.bias"]
        return F.linear(x, s["head.weight"], s["head.bias"])


def read_idx(path):
    with gzip.open(path, "rb") as f:
        magic, count = struct.unpack(">II", f.read(8))
        if magic == 2051:
            rows, cols = struct.unpack(">II", f.read(8))
            return np.frombuffer(f.read(), dtype=np.uint8).reshape(count, 1, rows, cols)
        return np.frombuffer(f.read(), dtype=np.uint8)


def targeted_dlr(z, y, t):
    ranked = z.sort(dim=1, descending=True).values
    denominator = ranked[:, 0] - 0.5 * (ranked[:, 2] + ranked[:, 3]) + 1e-12
    return (z.gather(1, t[:, None])[:, 0] - z.gather(1, y[:, None])[:, 0]) / denominator


def halving_points(iterations):
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(q * iterations - 1e-9) for q in p[1:] if 0 < math.ceil(q * iterations - 1e-9) < iterations})


def apgd(model, x, y, t, eps, iterations, gen):
    """One APGD run on the targeted DLR loss; returns, per point, whether some iterate fooled the model."""
    low, high = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    project = lambda v: torch.max(torch.min(v, high), low)

    def loss_and_grad(v):
        v = v.clone().requires_grad_(True)
        z = model(v)
        loss = targeted_dlr(z, y, t)
        grad, = torch.autograd.grad(loss.sum(), v)
        return z.detach(), loss.detach(), grad.detach()

    eta = torch.full((x.shape[0], 1, 1, 1), 2 * eps)
    current = project(x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps)
    z, loss, grad = loss_and_grad(current)
    fooled = z.argmax(1) != y
    best_x, best_loss, best_grad = current.clone(), loss.clone(), grad.clone()
    before = current.clone()
    points = halving_points(iterations)
    last, increases = 0, torch.zeros(x.shape[0])
    best_at_last, halved_at_last = best_loss.clone(), torch.ones(x.shape[0], dtype=torch.bool)
    for k in range(iterations):
        step = project(current + eta * grad.sign())
        following = step if k == 0 else project(current + 0.75 * (step - current) + 0.25 * (current - before))
        z, new_loss, new_grad = loss_and_grad(following)
        fooled |= z.argmax(1) != y
        increases += (new_loss > loss).float()
        better = new_loss > best_loss
        best_x[better], best_loss[better], best_grad[better] = following[better], new_loss[better], new_grad[better]
        before, current, loss, grad = current, following, new_loss, new_grad
        if k + 1 in points:
            halve = (increases < 0.75 * (k + 1 - last)) | (~halved_at_last & (best_at_last >= best_loss))
            eta[halve] /= 2
            current[halve], grad[halve] = best_x[halve], best_grad[halve]
            halved_at_last, best_at_last, increases, last = halve, best_loss.clone(), torch.zeros(x.shape[0]), k + 1
    return fooled


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--targets", type=int, default=9)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    manifest = json.load(open(f"{args.checkpoint}/manifest.json"))
    eps = manifest["training"]["hyperParameters"].get("epsilon", 0.1)
    model = SmallCnn(read_state(f"{args.checkpoint}/model.bin"), manifest["head"])
    images = torch.from_numpy(read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")[: args.examples].astype(np.float32) / 255)
    labels = torch.from_numpy(read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")[: args.examples].astype(np.int64))
    gen = torch.Generator().manual_seed(args.seed)

    clock = time.time()
    with torch.no_grad():
        logits = model(images)
    standing = logits.argmax(1) == labels
    clean = standing.float().mean().item()
    ranked = logits.argsort(dim=1, descending=True)
    broken_per_target = []
    for rank in range(1, args.targets + 1):
        idx = standing.nonzero()[:, 0]
        if len(idx) == 0:
            break
        fooled = torch.cat([apgd(model, images[c], labels[c], ranked[c, rank], eps, args.iterations, gen) for c in idx.split(250)])
        standing[idx[fooled]] = False
        broken_per_target.append(int(fooled.sum()))
    result = {
        "checkpoint": manifest["version"],
        "examples": args.examples,
        "epsilon": eps,
        "seed": args.seed,
        "torch": torch.__version__,
        "clean": clean,
        "apgdT": standing.float().mean().item(),
        "brokenPerTarget": broken_per_target,
        "seconds": round(time.time() - clock, 1),
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
