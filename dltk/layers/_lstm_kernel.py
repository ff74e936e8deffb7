"""A compiled LSTM recording loop (optional, CPU, float32/float64, sigmoid/tanh).

Recording every gate of a tanh/sigmoid LSTM the pure-PyTorch way costs the
fused kernel plus a second pass that rebuilds the gates (one batched matrix
product, the activations, a scan for c). This module compiles, once per
machine, a small C++ operator that instead runs the recurrence itself and
writes every signal as it goes: per step ONE matrix product
``z = [x_t, h_{t−1}] [W R]ᵀ`` into a reused (B, 4H) buffer (``at::mm_out``,
or a vectorized loop for tiny batches where a BLAS call costs more than its
work), then ONE fused vectorized loop that adds b, stores the pre-activations
(if wanted) and writes i, f, g, o, c_t and h_t straight into the (B, T, ·)
signal tensors (h, the layer output, contiguous; the others are views of
time-major storage, so each step writes adjacent memory: ~15% faster for a
full recording than batch-major rows). Nothing is computed twice; no separate input projection,
activation or scan passes over big buffers. With ``lengths`` each sequence
runs over its own steps (the backward direction from its own end), padded
steps are written as zeros and the final states are each sequence's own.

Float32 uses PyTorch's fast ``exp_u20`` and a Newton-refined reciprocal
(~1e-6 relative per activation, like a fused kernel); float64 uses PyTorch's
own vectorized exp/tanh (≤ 1e-15).

Compilation uses :func:`torch.utils.cpp_extension.load_inline` (needs a C++
compiler, ``ninja`` and PyTorch's headers) and is cached under
``~/.cache/torch_extensions``; the first recording prints a one-line notice.
Prebuild with ``python -c "from dltk.layers._lstm_kernel import op; op()"``.
Any failure (no compiler, unsupported CPU, ``DLTK_NO_LSTM_KERNEL=1``) is
remembered (a failed build also on disk, so no process retries it) and the
layers fall back silently to the kernel + reconstruction path: the numbers
are the same within float rounding either way.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from typing import Any

import torch

Tensor = torch.Tensor

_SOURCE = r"""
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

namespace {
using at::Tensor;

template <typename T>
using Vec = at::vec::Vectorized<T>;

// float64: PyTorch's own vectorized exp/tanh (Sleef, 1 ulp); sigmoid as PyTorch: 1 / (1 + exp(-x))
template <typename T>
struct Act {
  static Vec<T> sig(const Vec<T>& x) { return (Vec<T>(T(1)) + x.neg().exp()).reciprocal(); }
  static Vec<T> tanh(const Vec<T>& x) { return x.tanh(); }
};
// float32: the fast exp PyTorch uses in its fused CPU kernels (exp_u20, ~20 ulp, i.e. ~2e-6 relative),
// tanh(x) = 2 / (1 + exp(-2x)) - 1 (absolute error ~3e-7): ~3x faster than Sleef's tanh
// and 1/x from the hardware estimate plus one Newton step (~1e-7 relative) instead of a division.
inline Vec<float> recip(const Vec<float>& x) {
#if defined(CPU_CAPABILITY_AVX512)
  const Vec<float> r(_mm512_rcp14_ps(x));
#elif defined(CPU_CAPABILITY_AVX2)
  const Vec<float> r(_mm256_rcp_ps(x));
#else
  return x.reciprocal();
#endif
  return r * (Vec<float>(2.f) - x * r);
}
template <>
struct Act<float> {
  static Vec<float> sig(const Vec<float>& x) { return recip(Vec<float>(1.f) + x.neg().exp_u20()); }
  static Vec<float> tanh(const Vec<float>& x) {
    return Vec<float>(2.f) * recip(Vec<float>(1.f) + (x * Vec<float>(-2.f)).exp_u20()) - Vec<float>(1.f);
  }
};

// z = h Rt for tiny batches (Rt: (H, G) contiguous, in cache), cheaper than a BLAS call per step
template <typename T>
void small_mm(T* Z, const T* Hs, const T* Rt, int64_t B, int64_t H, int64_t G) {
  const int64_t V = Vec<T>::size();
  for (int64_t b = 0; b < B; ++b) {
    T* z = Z + b * G;
    const T* h = Hs + b * H;
    int64_t j = 0;
    for (; j + 4 * V <= G; j += 4 * V) {  // four independent accumulators hide the FMA latency
      Vec<T> a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
      for (int64_t k = 0; k < H; ++k) {
        const Vec<T> hk(h[k]);
        const T* r = Rt + k * G + j;
        a0 = at::vec::fmadd(hk, Vec<T>::loadu(r), a0);
        a1 = at::vec::fmadd(hk, Vec<T>::loadu(r + V), a1);
        a2 = at::vec::fmadd(hk, Vec<T>::loadu(r + 2 * V), a2);
        a3 = at::vec::fmadd(hk, Vec<T>::loadu(r + 3 * V), a3);
      }
      a0.store(z + j);
      a1.store(z + j + V);
      a2.store(z + j + 2 * V);
      a3.store(z + j + 3 * V);
    }
    for (; j < G; j += V) {
      const int64_t n = std::min(V, G - j);
      Vec<T> a(T(0));
      for (int64_t k = 0; k < H; ++k) a = at::vec::fmadd(Vec<T>(h[k]), Vec<T>::loadu(Rt + k * G + j, n), a);
      a.store(z + j, n);
    }
  }
}

template <typename T>
inline void put(T* p, const Vec<T>& v, int64_t n) {
  if (p) v.store(p, n);
}

template <typename T>
inline void zero(T* p, int64_t n) {
  if (p) std::fill(p, p + n, T(0));
}

// One direction. xh: (B, D+H) workspace [x_t, h_{t-1}], h_0 in its H columns; cs: (B, H) c_0.
// WRt: [W R]^T, (D+H, 4H). out[0..5]: i, f, g, o, c, h (B, T, H) or null; pre: (B, T, 4H) or null.
template <typename T>
void run(const Tensor& x, const Tensor& WRt, const T* bias, Tensor& xh, Tensor& cs, const int64_t* len,
         bool reverse, T* const* out, T* pre) {
  const int64_t B = x.size(0), Tn = x.size(1), D = x.size(2), K = xh.size(1), H = K - D, G = 4 * H;
  const int64_t V = Vec<T>::size();
  Tensor z = at::empty({B, G}, x.options());
  const T* X = x.data_ptr<T>();
  T *Z = z.data_ptr<T>(), *XH = xh.data_ptr<T>(), *Cp = cs.data_ptr<T>();
  const int64_t grain = std::max<int64_t>(1, 8192 / H);
  const bool small = B * G * K <= 65536;
  const Tensor WRc = small ? WRt.contiguous() : WRt;
  // wide inputs and modest batches (stacked layers): project every x_t at once, x W^T (B, T, 4H) in one
  // product, as the fused kernel does; each step then adds only h_{t-1} R^T. (Measured on 2 cores:
  // (32,100,100,100) 2.0x -> 1.6x of torch.nn.LSTM; with B = 128 the per-step [x_t, h] product is
  // already efficient and the extra (B, T, 4H) buffer costs more than it saves.)
  const bool project = !small && D >= 32 && B < 64;
  Tensor P, hprev, Rt;
  if (project) {
    P = at::matmul(x, WRt.narrow(0, 0, D)).contiguous();
    hprev = xh.narrow(1, D, H);  // (B, H) view of the workspace, row stride K
    Rt = WRt.narrow(0, D, H);    // (H, 4H)
  }
  const T* Pp = project ? P.data_ptr<T>() : nullptr;
  for (int64_t s = 0; s < Tn; ++s) {
    for (int64_t b = 0; b < B; ++b) {  // x_t of each running sequence (or its projection) for this step
      const int64_t L = len ? len[b] : Tn;
      if (s >= L) continue;
      const int64_t tb = b * Tn + (reverse ? L - 1 - s : s);
      if (project)
        std::copy_n(Pp + tb * G, G, Z + b * G);
      else
        std::copy_n(X + tb * D, D, XH + b * K);
    }
    if (project)  // z = x_t W^T + h_{t-1} R^T
      z.addmm_(hprev, Rt);
    else if (small)  // z = [x_t, h_{t-1}] [W R]^T, (B, 4H): one product per step, no separate input pass
      small_mm<T>(Z, XH, WRc.data_ptr<T>(), B, K, G);
    else
      at::mm_out(z, xh, WRt);
    at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t L = len ? len[b] : Tn;
        // storage: h batch-major (B, T, H), the others time-major (T, B, .) so that each step's
        // writes are adjacent (fewer pages and TLB entries touched per step)
        const int64_t t = s >= L ? s : (reverse ? L - 1 - s : s), qt = t * B + b, qb = b * Tn + t;
        if (s >= L) {  // padded step of a finished sequence: zeros, states kept
          zero(pre ? pre + qt * G : nullptr, G);
          for (int k = 0; k < 6; ++k) zero(out[k] ? out[k] + (k == 5 ? qb : qt) * H : nullptr, H);
          continue;
        }
        T *zr = Z + b * G, *hb = XH + b * K + D, *cb = Cp + b * H, *pr = pre ? pre + qt * G : nullptr;
        T* o[6];
        for (int k = 0; k < 6; ++k) o[k] = out[k] ? out[k] + (k == 5 ? qb : qt) * H : nullptr;
        for (int64_t j = 0; j < H; j += V) {
          const int64_t n = std::min(V, H - j);
          Vec<T> a[4];
          for (int k = 0; k < 4; ++k) {
            a[k] = Vec<T>::loadu(zr + k * H + j, n) + Vec<T>::loadu(bias + k * H + j, n);
            put(pr ? pr + k * H + j : nullptr, a[k], n);
          }
          const Vec<T> i = Act<T>::sig(a[0]), f = Act<T>::sig(a[1]), g = Act<T>::tanh(a[2]), og = Act<T>::sig(a[3]);
          const Vec<T> c = f * Vec<T>::loadu(cb + j, n) + i * g;
          const Vec<T> h = og * Act<T>::tanh(c);
          put(o[0] ? o[0] + j : nullptr, i, n);
          put(o[1] ? o[1] + j : nullptr, f, n);
          put(o[2] ? o[2] + j : nullptr, g, n);
          put(o[3] ? o[3] + j : nullptr, og, n);
          put(o[4] ? o[4] + j : nullptr, c, n);
          put(o[5] ? o[5] + j : nullptr, h, n);
          c.store(cb + j, n);
          h.store(hb + j, n);  // next step's h_{t-1}
        }
      }
    });
  }
}

// x (B, T, D); WR = [W R] (4H, D+H); bias (4H,); h0, c0 (B, H); lengths (B,) or None.
// Bit k of want: signal k of [i, f, g, o, c, h, pre] (empty tensor when unset; h always).
// Returns those seven, each (B, T, .): h contiguous, the others views of (T, B, .) storage; then h_T, c_T (B, H).
std::vector<Tensor> lstm_record(const Tensor& x_, const Tensor& WR, const Tensor& bias_, const Tensor& h0,
                                const Tensor& c0, const c10::optional<Tensor>& lengths, bool reverse, int64_t want) {
  const Tensor x = x_.contiguous(), bias = bias_.contiguous();
  TORCH_CHECK(x.dim() == 3 && WR.dim() == 2, "lstm_record: x must be (B, T, D), WR (4H, D+H)");
  const int64_t B = x.size(0), Tn = x.size(1), D = x.size(2), K = WR.size(1), H = K - D;
  TORCH_CHECK(H > 0 && WR.size(0) == 4 * H && bias.numel() == 4 * H, "lstm_record: weight shapes");
  TORCH_CHECK(h0.sizes() == at::IntArrayRef({B, H}) && c0.sizes() == h0.sizes(), "lstm_record: state shapes");
  TORCH_CHECK(WR.scalar_type() == x.scalar_type() && bias.scalar_type() == x.scalar_type() &&
              h0.scalar_type() == x.scalar_type() && c0.scalar_type() == x.scalar_type(), "lstm_record: dtypes");
  Tensor xh = at::empty({B, K}, x.options()), cs = c0.contiguous().clone();
  xh.narrow(1, D, H).copy_(h0);
  Tensor len;
  if (lengths.has_value()) len = lengths->to(at::kLong).contiguous();
  want |= 32;  // h is the output: always
  std::vector<Tensor> res;
  for (int k = 0; k < 7; ++k) {
    const int64_t n = (want >> k & 1) ? B : 0, w = k < 6 ? H : 4 * H;
    res.push_back(k == 5 ? at::empty({n, Tn, w}, x.options()) : at::empty({Tn, n, w}, x.options()));
  }
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_record", [&] {
    scalar_t* out[6];
    for (int k = 0; k < 6; ++k) out[k] = (want >> k & 1) ? res[k].data_ptr<scalar_t>() : nullptr;
    scalar_t* pre = (want >> 6 & 1) ? res[6].data_ptr<scalar_t>() : nullptr;
    run<scalar_t>(x, WR.t(), bias.data_ptr<scalar_t>(), xh, cs, len.defined() ? len.data_ptr<int64_t>() : nullptr,
                  reverse, out, pre);
  });
  for (int k = 0; k < 7; ++k)
    if (k != 5) res[k] = res[k].transpose(0, 1);
  res.push_back(xh.narrow(1, D, H).clone());
  res.push_back(cs);
  return res;
}
}  // namespace

TORCH_LIBRARY(NAMESPACE, m) {
  m.def("lstm_record(Tensor x, Tensor WR, Tensor bias, Tensor h0, Tensor c0, Tensor? lengths, bool reverse, "
        "int want) -> Tensor[]", &lstm_record);
}
"""

# vectorization flags for the instruction sets PyTorch itself dispatches to
_FLAGS = {
    "AVX2": ["-mavx2", "-mfma", "-mf16c", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"],
    "AVX512": [
        "-mavx512f",
        "-mavx512bw",
        "-mavx512vl",
        "-mavx512dq",
        "-mfma",
        "-mf16c",
        "-DCPU_CAPABILITY=AVX512",
        "-DCPU_CAPABILITY_AVX512",
    ],
}
_state: dict[str, Any] = {"op": None, "tried": False, "reason": "not tried yet"}


def _build() -> Any:
    """Compile (or load the cached build) and return the operator; raises on any failure."""
    if os.environ.get("DLTK_NO_LSTM_KERNEL"):
        raise RuntimeError("disabled by DLTK_NO_LSTM_KERNEL")
    cap = torch.backends.cpu.get_cpu_capability()
    if cap not in _FLAGS:
        raise RuntimeError(f"CPU capability {cap} has no vectorized build")
    if shutil.which("ninja") is None:
        try:
            import ninja  # the pip package carries the binary

            os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
        except ImportError as e:
            raise RuntimeError("ninja is not installed") from e
    from torch.utils import cpp_extension

    key = hashlib.sha1(f"{_SOURCE}{cap}{torch.__version__}".encode()).hexdigest()[:10]
    name = f"dltk_lstm_{key}"
    ns = getattr(torch.ops, name)
    if not hasattr(ns, "lstm_record"):
        build_dir = cpp_extension._get_build_directory(name, False)
        failed = os.path.join(build_dir, "dltk_build_failed.txt")
        if os.path.exists(failed):  # do not retry a failed build in every new process
            raise RuntimeError(f"an earlier build failed (delete {failed} to retry)")
        if not os.path.exists(os.path.join(build_dir, f"{name}.so")):
            print("dltk: compiling the LSTM recording kernel (once per machine, about a minute)…", file=sys.stderr)
        try:
            cpp_extension.load_inline(
                name,
                cpp_sources=[_SOURCE.replace("NAMESPACE", name)],
                extra_cflags=["-O3", "-fopenmp", *_FLAGS[cap]],
                extra_ldflags=["-fopenmp"],
                is_python_module=False,
                no_implicit_headers=True,
            )
        except Exception as e:
            with open(failed, "w") as fh:
                fh.write(f"{type(e).__name__}: {e}\n")
            raise
    return ns.lstm_record


def op() -> Any:
    """The compiled operator, or None (building it on first use; failures are remembered)."""
    if not _state["tried"]:
        _state["tried"] = True
        try:
            _state["op"] = _build()
            _state["reason"] = "loaded"
        except Exception as e:  # noqa: BLE001  (any build/load failure means: use the fallback)
            _state["op"], _state["reason"] = None, f"{type(e).__name__}: {e}"
    return _state["op"]


def usable(x: Tensor) -> bool:
    """True when the compiled loop can record ``x`` (CPU, float32/64; the caller checks autograd is off)."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and op() is not None


_NAMES = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state", "gates_pre")


def lstm_record(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    lengths: Tensor | None,
    reverse: bool,
    want: Any,
) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
    """One LSTM direction (sigmoid/tanh) with every wanted signal, in original time order.

    Returns (h (B, T, H) with zeros at padded steps, h_T, c_T (B, H) each
    sequence's own, {signal: (B, T, ·)}). ``reverse`` runs the backward
    direction (each sequence from its own last step).
    """
    bits = sum(1 << k for k, n in enumerate(_NAMES) if want(n))
    L = None if lengths is None else lengths.to(torch.long)
    res = op()(x, torch.cat([W, R], 1), b, h0, c0, L, reverse, bits)
    return res[5], res[7], res[8], {n: res[k] for k, n in enumerate(_NAMES) if bits >> k & 1}
