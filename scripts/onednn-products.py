"""fp32 products of the final model's shape through MKL and through oneDNN, in LibTorch.

Prints GFLOP/s (one thread) for the three products of a 512x512 dense layer at 512 and
64 rows: forward, input gradient, weight gradient. gridsweep's fp32 training runs all
of them on MKL's sgemm (see the README, "The fp32 peak"). Uses the LibTorch wheel that
scripts/setup-libtorch.sh installed:

    PYTHONPATH=~/.cache/gridsweep/torch-2.11.0 python3 scripts/onednn-products.py
"""
import time
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402

torch.set_num_threads(1)
aten = torch.ops.aten


def seconds(f):
    for _ in range(3):
        f()
    t, n = time.time(), 0
    while time.time() - t < 1.0:
        f()
        n += 1
    return (time.time() - t) / n


for rows in (512, 64):
    a, w, g = torch.randn(rows, 512), torch.randn(512, 512), torch.randn(rows, 512)
    am, gm, bias = a.to_mkldnn(), g.to_mkldnn(), torch.zeros(512)
    gflop = 2 * rows * 512 * 512 / 1e9
    cases = {
        "forward MKL": lambda: torch.addmm(bias, a, w.t()),
        "forward oneDNN": lambda: torch._C._nn.mkldnn_linear(am, w, bias),
        "input gradient MKL": lambda: g.mm(w),
        "input gradient oneDNN": lambda: aten.mkldnn_linear_backward_input(a.shape, gm, w),
        "weight gradient MKL": lambda: g.t().mm(a),
        "weight gradient oneDNN": lambda: aten.mkldnn_linear_backward_weights(gm, am, w, True),
    }
    for name, f in cases.items():
        print(f"{rows:>4} rows  {name:<24} {gflop / seconds(f):6.0f} GFLOP/s")
