"""Fused training's premise on this CPU (issue 33): the dense layers of N same-shape
networks as batched products over a member axis, against the N networks one by one.

For each shape (the input's 19 features, two hidden layers of `width`, 6 classes), batch
size and member count N, one thread, it times the products of one training step of
gridsweep's written-out step (src/train/backprop.rs): per layer the forward
`x.linear(w, b)`, the weight gradient `g.t().mm(x)`, the bias gradient `g.sum(0)` and
the input gradient `g.mm(w)`; fused: `baddbmm`, `bmm` over stacked [N, …] tensors. It
checks that every fused member's slice equals its own unfused result bit for bit, and
prints the fused step's throughput over the unfused one's. Uses the LibTorch wheel
scripts/setup-libtorch.sh installed:

    PYTHONPATH=~/.cache/gridsweep/torch-2.11.0 python3 scripts/fusion-kernels.py [--threads 1]
        [--device cpu|cuda|cuda:N] [--budget SECONDS] [--json]

`--device cuda` times the products on a GPU (synchronised), where fusion is expected to
pay: one small network's products leave most of the chip idle. `--json` prints the
table as one JSON list (scripts/gpu-check.sh records it).
"""
import json
import argparse
import time
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402


def seconds(f, budget, sync):
    for _ in range(2):
        f()
    sync()
    t, n = time.perf_counter(), 0
    while time.perf_counter() - t < budget:
        f()
        n += 1
    sync()
    return (time.perf_counter() - t) / n


def layers(width):
    return [(19, width), (width, width), (width, 6)]


def one(xs, ws, bs, gs):
    """The products of one member's step; returns its outputs."""
    out = []
    for x, w, b, g in zip(xs, ws, bs, gs):
        out += [torch.nn.functional.linear(x, w, b), g.t().mm(x), g.sum(0), g.mm(w)]
    return out


def fused(Xs, Ws, Bs, Gs):
    out = []
    for X, W, B, G in zip(Xs, Ws, Bs, Gs):
        out += [torch.baddbmm(B.unsqueeze(1), X, W.transpose(1, 2)), torch.bmm(G.transpose(1, 2), X), G.sum(1), torch.bmm(G, W)]
    return out


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--device", default="cpu")
    a.add_argument("--budget", type=float, default=0.6, help="seconds of timing per case and side")
    a.add_argument("--json", action="store_true")
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    rows = []
    if not args.json:
        print(f"torch {torch.__version__}, {args.device}, {args.threads} thread(s)")
        print("| hidden width | batch | members | bit for bit | unfused steps/s | fused steps/s | fused ÷ unfused |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
    for width in (128, 512):
        for batch in (64, 512):
            for n in (1, 4, 16):
                shapes = layers(width)
                # Per member: each layer's input, weight, bias and output gradient.
                Xs = [torch.randn(n, batch, i, device=dev) for i, _ in shapes]
                Ws = [torch.randn(n, o, i, device=dev) * 0.05 for i, o in shapes]
                Bs = [torch.randn(n, o, device=dev) * 0.05 for _, o in shapes]
                Gs = [torch.randn(n, batch, o, device=dev) * 0.01 for _, o in shapes]
                members = [([X[m].contiguous() for X in Xs], [W[m].contiguous() for W in Ws], [B[m].contiguous() for B in Bs], [G[m].contiguous() for G in Gs]) for m in range(n)]
                f = fused(Xs, Ws, Bs, Gs)
                same = all(torch.equal(fo[m], uo) for m, mem in enumerate(members) for fo, uo in zip(f, one(*mem)))
                worst = max(float((fo[m] - uo).abs().max()) for m, mem in enumerate(members) for fo, uo in zip(f, one(*mem)))
                t_one = seconds(lambda: [one(*mem) for mem in members], args.budget, sync)
                t_fused = seconds(lambda: fused(Xs, Ws, Bs, Gs), args.budget, sync)
                row = {"width": width, "batch": batch, "members": n, "bit_for_bit": same, "max_abs_diff": worst,
                       "unfused_steps_per_s": 1 / t_one, "fused_steps_per_s": 1 / t_fused, "fused_over_unfused": t_one / t_fused}
                rows.append(row)
                if not args.json:
                    print(f"| {width} | {batch} | {n} | {'yes' if same else f'no (max {worst:.1e})'} | {1 / t_one:,.0f} | {1 / t_fused:,.0f} | {t_one / t_fused:.2f} |", flush=True)
    if args.json:
        print(json.dumps({"torch": torch.__version__, "device": args.device, "threads": args.threads, "cases": rows}))


if __name__ == "__main__":
    main()
