#!/usr/bin/env python3
"""PyTorch reference for the training benchmark (bench/Training).

The same network (small-cnn with the cosine head), batch, objective, attack and thread count as
HardPair's AdversarialTrainer, written the plain PyTorch way: SGD (momentum 0.9, weight decay
2e-4), per-step attack then forward/backward/step, one loss.item() per step (the trainer reports
its loss every step too). Prints one JSON line: steps/s over the timed steps and the peak
resident memory of this process.

    /usr/bin/python3 bench/Training/reference.py --method spat --steps 20 --warmup 3 --threads 2
"""

import argparse
import gzip
import json
import os
import resource
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class CosineHead(nn.Module):
    def __init__(self, features, classes):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes, features))
        self.bias = nn.Parameter(torch.zeros(classes))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)

    def forward(self, x):
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).t() + self.bias


class SmallCnn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.head = CosineHead(128, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.head(F.relu(self.fc1(x.flatten(1))))


def project(x, origin, eps):
    return torch.min(torch.max(x, origin - eps), origin + eps).clamp(0, 1).detach()


def pgd(model, images, labels, eps, steps, step_size, scale):
    """PGD-k (random start, CE on s·z), keeping each example's first fooling iterate."""
    x = project(images + torch.empty_like(images).uniform_(-eps, eps), images, eps)
    best, fooled = x, torch.zeros(images.shape[0], dtype=torch.bool, device=images.device)
    for _ in range(steps):
        x.requires_grad_(True)
        logits = model(x)
        loss = F.cross_entropy(scale * logits, labels, reduction="none").sum()
        grad, = torch.autograd.grad(loss, [x])
        newly = (logits.argmax(1) != labels) & ~fooled
        best = torch.where(newly.view(-1, 1, 1, 1), x.detach(), best)
        fooled = fooled | newly
        x = project(x.detach() + step_size * grad.sign(), images, eps)
    with torch.no_grad():
        newly = (model(x).argmax(1) != labels) & ~fooled
        best = torch.where(newly.view(-1, 1, 1, 1), x, best)
        fooled = fooled | newly
    return torch.where(fooled.view(-1, 1, 1, 1), best, x).detach()


def consistency_attack(model, images, divergence, eps, steps, step_size):
    """TRADES-style: from x + 0.001·N(0, I), sign steps that climb divergence(clean, z′)."""
    with torch.no_grad():
        clean = model(images)
    x = (images + 0.001 * torch.randn_like(images)).detach()
    for _ in range(steps):
        x.requires_grad_(True)
        grad, = torch.autograd.grad(divergence(clean, model(x)), [x])
        x = project(x.detach() + step_size * grad.sign(), images, eps)
    return project(x, images, eps)


def trades_kl(clean, adv, s):
    log_p, log_q = F.log_softmax(s * clean, 1), F.log_softmax(s * adv, 1)
    return (log_p.exp() * (log_p - log_q)).sum(1).mean()


def hcp_ecp(clean, adv, s, n):
    log_p, log_q = F.log_softmax(s * clean, 1), F.log_softmax(s * adv, 1)
    k = log_p.exp() * (log_p - log_q)
    return (k * (k + n)).sum(1).mean()


def self_paced_ce(logits, labels, s, m):
    onehot = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    alpha = onehot * (1 + m - logits) + (1 - onehot) * (logits + m)
    return F.cross_entropy(s * alpha * logits, labels)


def make_objective(method, a):
    s, beta = a.scale, a.beta

    def standard(model, x, y):
        model.train()
        return F.cross_entropy(s * model(x), y)

    def pgd_at(model, x, y):
        model.eval()
        adv = pgd(model, x, y, a.epsilon, a.attack_steps, a.step_size, s)
        model.train()
        return F.cross_entropy(s * model(adv), y)

    def consistency(natural, robust):
        def compute(model, x, y):
            model.eval()
            adv = consistency_attack(model, x, robust, a.epsilon, a.attack_steps, a.step_size)
            model.train()
            clean = model(x)
            return natural(clean, y) + beta * robust(clean, model(adv))
        return compute

    return {
        "standard": standard,
        "pgd-at": pgd_at,
        "trades": consistency(lambda z, y: F.cross_entropy(s * z, y), lambda c, z: trades_kl(c, z, s)),
        "spat": consistency(lambda z, y: self_paced_ce(z, y, s, a.margin), lambda c, z: hcp_ecp(c, z, s, a.consistency)),
    }[method]


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise SystemExit(f"reference.py: no {stem}[.gz] in {folder}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", required=True, choices=["standard", "pgd-at", "trades", "spat"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attack-steps", type=int, default=10)
    p.add_argument("--epsilon", type=float, default=0.1)
    p.add_argument("--step-size", type=float, default=0.02)
    p.add_argument("--scale", type=float, default=8.0)
    p.add_argument("--beta", type=float, default=6.0)
    p.add_argument("--margin", type=float, default=0.2)
    p.add_argument("--consistency", type=float, default=0.2)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(a.threads)
    torch.manual_seed(1)
    count = a.batch_size * (a.warmup + a.steps)
    images = torch.from_numpy(read_idx(find(a.data, "train-images-idx3-ubyte"))[:count].copy()).float().div(255).unsqueeze(1)
    labels = torch.from_numpy(read_idx(find(a.data, "train-labels-idx1-ubyte"))[:count].astype(np.int64))

    device = torch.device(a.device)
    images, labels = images.to(device), labels.to(device)
    model = SmallCnn().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=2e-4)
    objective = make_objective(a.method, a)
    order = torch.randperm(count, device=device)
    started = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            started = time.perf_counter()
        batch = order[step * a.batch_size:(step + 1) * a.batch_size]
        x, y = images[batch], labels[batch]
        optimizer.zero_grad()
        loss = objective(model, x, y)
        loss.backward()
        optimizer.step()
        loss.item()  # also waits for the device, as the trainer's per-step report does
    seconds = time.perf_counter() - started
    print(json.dumps({
        "implementation": "pytorch",
        "version": torch.__version__,
        "method": a.method,
        "steps": a.steps,
        "seconds": seconds,
        "stepsPerSecond": a.steps / seconds,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
