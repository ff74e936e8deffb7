"""Compiled LSTM and GRU recording loops (optional, CPU, float32/float64, sigmoid/tanh).

Recording every gate of a tanh/sigmoid LSTM or GRU the pure-PyTorch way costs
the fused kernel plus a second pass that rebuilds the gates (one batched matrix
product, the activations, a scan for c). This module compiles, once per
machine, two small C++ operators that instead run the recurrence themselves
and write every signal as they go.

``lstm_record``: per step ONE matrix product ``z = [x_t, h_{t−1}] [W R]ᵀ`` into
a reused (B, 4H) buffer (``at::mm_out``, or a vectorized loop for tiny batches
where a BLAS call costs more than its work), then ONE fused vectorized loop
that adds b, stores the pre-activations (if wanted) and writes i, f, g, o, c_t
and h_t straight into the (B, T, ·) signal tensors (h, the layer output,
contiguous; the others are views of time-major storage, so each step writes
adjacent memory: ~15% faster for a full recording than batch-major rows).

``gru_record``: the input projection ``x Wᵀ + b_W`` for all steps at once (as
the fused kernel does), then per step the recurrent product ``h_{t−1} Rᵀ``
(before-multiplication: the r, z columns, then ``(r ⊙ h_{t−1}) R_hᵀ``) and one
fused loop writing r, z, h~, h and the pre-activations, in all three
ResetGateModes.

``lstm_record_backward`` (used through :class:`_LSTMRecord` when autograd is
on): backward through time from the recorded gates, per step one
(B, 4H)·(4H, H) product and one pass over the step's values, adding the
gradients that reach the recorded signals themselves; then ∂W, ∂R, ∂b, ∂x
from all steps at once. ``gru_record_backward`` (through :class:`_GRURecord`)
does the same for the GRU in every ResetGateMode: per step one pass and one
(B, 3H)·(3H, H) product (before-multiplication: first a_n R_h for the chain
through r ⊙ h_{t−1}, then (B, 2H)·(2H, H)); the forward keeps, after
multiplication, the candidate's recurrent part ``h_{t−1} R_hᵀ (+ b_Rh)`` for it.

Nothing is computed twice; no separate activation or scan passes over big
buffers. With ``lengths`` each sequence runs over its own steps (an LSTM's
backward direction from its own end), padded steps are written as zeros and
the final states are each sequence's own.

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
// The exponent is capped at 88 (exp(88) ~ 1.7e38 < FLT_MAX): an overflow to inf would turn the Newton
// step r (2 - x r) into inf * 0 = NaN for saturated units (|pre-activation| > ~88, e.g. unnormalized data).
// NaN inputs stay NaN (at::vec::minimum propagates them).
inline Vec<float> exp_capped(const Vec<float>& x) { return at::vec::minimum(x, Vec<float>(88.f)).exp_u20(); }
template <>
struct Act<float> {
  static Vec<float> sig(const Vec<float>& x) { return recip(Vec<float>(1.f) + exp_capped(x.neg())); }
  static Vec<float> tanh(const Vec<float>& x) {
    return Vec<float>(2.f) * recip(Vec<float>(1.f) + exp_capped(x * Vec<float>(-2.f))) - Vec<float>(1.f);
  }
};

// z = h Rt for tiny batches (Rt: (H, G), row stride ldr, in cache), cheaper than a BLAS call per step;
// rows of Hs are H apart unless ldh says otherwise, rows of Z are G apart unless ldz says otherwise
template <typename T>
void small_mm(T* Z, const T* Hs, const T* Rt, int64_t B, int64_t H, int64_t G, int64_t ldr = -1, int64_t ldh = -1,
              int64_t ldz = -1) {
  if (ldr < 0) ldr = G;
  if (ldh < 0) ldh = H;
  if (ldz < 0) ldz = G;
  const int64_t V = Vec<T>::size();
  for (int64_t b = 0; b < B; ++b) {
    T* z = Z + b * ldz;
    const T* h = Hs + b * ldh;
    int64_t j = 0;
    for (; j + 4 * V <= G; j += 4 * V) {  // four independent accumulators hide the FMA latency
      Vec<T> a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
      for (int64_t k = 0; k < H; ++k) {
        const Vec<T> hk(h[k]);
        const T* r = Rt + k * ldr + j;
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
      for (int64_t k = 0; k < H; ++k) a = at::vec::fmadd(Vec<T>(h[k]), Vec<T>::loadu(Rt + k * ldr + j, n), a);
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

// ---------------------------------------------------------------------------------------------- GRU
// One GRU direction. P = x W^T + b_W (B, T, 3H) contiguous; Rt = R^T (H, 3H); bR (3H) or null;
// hw (B, H): h_0 in, h_T out. mode 0 after-multiplication, 1 before-multiplication, 2 recurrent-bias-after.
// reverse: the backward direction, each sequence from its own last step (as the LSTM's run).
// out[0..4]: r, z, n, h, hn (h batch-major (B, T, H), the others time-major (T, B, H)) or null; pre (T, B, 3H) or
// null. hn (modes 0/2 only, for the backward): the candidate's recurrent part h_{t-1} R_h^T (+ b_Rh).
template <typename T>
void run_gru(const Tensor& P, const Tensor& Rt_, const T* bR, Tensor& hw, const int64_t* len, int mode,
             bool reverse, T* const* out, T* pre) {
  const int64_t B = P.size(0), Tn = P.size(1), G = P.size(2), H = G / 3;
  const int64_t V = Vec<T>::size();
  const bool before = mode == 1;
  const int64_t Gh = before ? 2 * H : G;  // columns of the per-step product h R^T
  const Tensor Rt = Rt_.contiguous();     // (H, 3H)
  const Tensor Rrz = Rt.narrow(1, 0, Gh), Rn = Rt.narrow(1, 2 * H, H);
  const bool small = B * Gh * H <= 65536;
  Tensor gh = at::empty({B, Gh}, P.options()), rz, rh, gn;
  if (before) {
    rz = at::empty({B, 2 * H}, P.options());
    rh = at::empty({B, H}, P.options());
    gn = at::empty({B, H}, P.options());
  }
  const T *Pp = P.data_ptr<T>(), *Rp = Rt.data_ptr<T>();
  T *GH = gh.data_ptr<T>(), *HW = hw.data_ptr<T>();
  T *RZ = before ? rz.data_ptr<T>() : nullptr, *RH = before ? rh.data_ptr<T>() : nullptr;
  T* GN = before ? gn.data_ptr<T>() : nullptr;
  const int64_t grain = std::max<int64_t>(1, 8192 / H);
  for (int64_t s = 0; s < Tn; ++s) {
    if (small)  // recurrent product h_{t-1} R^T: (B, 3H), or only its r, z columns before multiplication
      small_mm<T>(GH, HW, Rp, B, H, Gh, G);
    else
      at::mm_out(gh, hw, Rrz);
    // pass 1 (before-multiplication only): r, z and r ⊙ h_{t-1}; then (r ⊙ h) R_h^T
    if (before) {
      at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t L = len ? len[b] : Tn;
          if (s >= L) continue;
          const T *px = Pp + (b * Tn + (reverse ? L - 1 - s : s)) * G, *g = GH + b * Gh, *hb = HW + b * H;
          for (int64_t j = 0; j < 2 * H; j += V) {
            const int64_t n = std::min(V, 2 * H - j);
            const Vec<T> a = Act<T>::sig(Vec<T>::loadu(px + j, n) + Vec<T>::loadu(g + j, n));
            a.store(RZ + b * 2 * H + j, n);
          }
          for (int64_t j = 0; j < H; j += V) {
            const int64_t n = std::min(V, H - j);
            (Vec<T>::loadu(RZ + b * 2 * H + j, n) * Vec<T>::loadu(hb + j, n)).store(RH + b * H + j, n);
          }
        }
      });
      if (small)
        small_mm<T>(GN, RH, Rp + 2 * H, B, H, H, G);
      else
        at::mm_out(gn, rh, Rn);
    }
    at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t L = len ? len[b] : Tn;
        const int64_t t = s >= L ? s : (reverse ? L - 1 - s : s), qt = t * B + b, qb = b * Tn + t;
        if (s >= L) {  // padded step of a finished sequence: zeros, state kept
          zero(pre ? pre + qt * G : nullptr, G);
          for (int k = 0; k < 5; ++k) zero(out[k] ? out[k] + (k == 3 ? qb : qt) * H : nullptr, H);
          continue;
        }
        const T *px = Pp + qb * G, *g = GH + b * Gh;
        T* hb = HW + b * H;
        T* pr = pre ? pre + qt * G : nullptr;
        T* o[5];
        for (int k = 0; k < 5; ++k) o[k] = out[k] ? out[k] + (k == 3 ? qb : qt) * H : nullptr;
        for (int64_t j = 0; j < H; j += V) {
          const int64_t n = std::min(V, H - j);
          Vec<T> r, z, pn;
          if (before) {
            r = Vec<T>::loadu(RZ + b * 2 * H + j, n);
            z = Vec<T>::loadu(RZ + b * 2 * H + H + j, n);
            if (pr) {
              put(pr + j, Vec<T>::loadu(px + j, n) + Vec<T>::loadu(g + j, n), n);
              put(pr + H + j, Vec<T>::loadu(px + H + j, n) + Vec<T>::loadu(g + H + j, n), n);
            }
            pn = Vec<T>::loadu(px + 2 * H + j, n) + Vec<T>::loadu(GN + b * H + j, n);
          } else {
            Vec<T> ar = Vec<T>::loadu(px + j, n) + Vec<T>::loadu(g + j, n);
            Vec<T> az = Vec<T>::loadu(px + H + j, n) + Vec<T>::loadu(g + H + j, n);
            Vec<T> hn = Vec<T>::loadu(g + 2 * H + j, n);
            if (bR) {
              ar = ar + Vec<T>::loadu(bR + j, n);
              az = az + Vec<T>::loadu(bR + H + j, n);
              hn = hn + Vec<T>::loadu(bR + 2 * H + j, n);
            }
            put(pr ? pr + j : nullptr, ar, n);
            put(pr ? pr + H + j : nullptr, az, n);
            put(o[4] ? o[4] + j : nullptr, hn, n);
            r = Act<T>::sig(ar);
            z = Act<T>::sig(az);
            pn = Vec<T>::loadu(px + 2 * H + j, n) + r * hn;
          }
          put(pr ? pr + 2 * H + j : nullptr, pn, n);
          const Vec<T> c = Act<T>::tanh(pn);
          const Vec<T> h = c + z * (Vec<T>::loadu(hb + j, n) - c);
          put(o[0] ? o[0] + j : nullptr, r, n);
          put(o[1] ? o[1] + j : nullptr, z, n);
          put(o[2] ? o[2] + j : nullptr, c, n);
          put(o[3] ? o[3] + j : nullptr, h, n);
          h.store(hb + j, n);  // next step's h_{t-1}
        }
      }
    });
  }
}

// x (B, T, D); W (3H, D); R (3H, H); bias (3H,) or (6H,) = [b_W; b_R] (mode 2); h0 (B, H); lengths (B,) or None.
// Bit k of want: signal k of [r, z, n, h, pre] (empty tensor when unset; h always); bit 5: hn (modes 0/2, for
// the backward). Returns those five, each (B, T, .): h contiguous, the others views of (T, B, .) storage; then
// h_T (B, H); then hn (B, T, H) (view of (T, B, H) storage; empty unless wanted).
std::vector<Tensor> gru_record(const Tensor& x_, const Tensor& W, const Tensor& R, const Tensor& bias_,
                               const Tensor& h0, const c10::optional<Tensor>& lengths, int64_t mode, bool reverse,
                               int64_t want) {
  const Tensor x = x_.contiguous(), bias = bias_.contiguous();
  TORCH_CHECK(x.dim() == 3 && W.dim() == 2 && R.dim() == 2, "gru_record: x must be (B, T, D), W (3H, D), R (3H, H)");
  const int64_t B = x.size(0), Tn = x.size(1), D = x.size(2), H = R.size(1), G = 3 * H;
  TORCH_CHECK(mode >= 0 && mode <= 2, "gru_record: mode");
  TORCH_CHECK(W.size(0) == G && W.size(1) == D && R.size(0) == G, "gru_record: weight shapes");
  TORCH_CHECK(bias.numel() == (mode == 2 ? 2 * G : G), "gru_record: bias size");
  TORCH_CHECK(h0.sizes() == at::IntArrayRef({B, H}), "gru_record: state shape");
  TORCH_CHECK(W.scalar_type() == x.scalar_type() && R.scalar_type() == x.scalar_type() &&
              bias.scalar_type() == x.scalar_type() && h0.scalar_type() == x.scalar_type(), "gru_record: dtypes");
  const Tensor P = at::addmm(bias.narrow(0, 0, G), x.reshape({B * Tn, D}), W.t()).view({B, Tn, G});
  Tensor hw = h0.contiguous().clone();
  Tensor len;
  if (lengths.has_value()) len = lengths->to(at::kLong).contiguous();
  want |= 8;  // h is the output: always
  if (mode == 1) want &= ~int64_t(32);  // no hn before multiplication
  std::vector<Tensor> res;
  for (int k = 0; k < 6; ++k) {
    const int64_t n = (want >> k & 1) ? B : 0, w = k == 4 ? G : H;
    res.push_back(k == 3 ? at::empty({n, Tn, w}, x.options()) : at::empty({Tn, n, w}, x.options()));
  }
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_record", [&] {
    scalar_t* out[5];
    for (int k = 0; k < 5; ++k) {
      const int bit = k < 4 ? k : 5;
      out[k] = (want >> bit & 1) ? res[k == 4 ? 5 : k].data_ptr<scalar_t>() : nullptr;
    }
    scalar_t* pre = (want >> 4 & 1) ? res[4].data_ptr<scalar_t>() : nullptr;
    const scalar_t* bR = mode == 2 ? bias.data_ptr<scalar_t>() + G : nullptr;
    run_gru<scalar_t>(P, R.t(), bR, hw, len.defined() ? len.data_ptr<int64_t>() : nullptr, (int)mode, reverse, out,
                      pre);
  });
  for (int k = 0; k < 6; ++k)
    if (k != 3) res[k] = res[k].transpose(0, 1);
  res.insert(res.begin() + 5, hw);
  return res;
}

// ------------------------------------------------------------------------------------ LSTM backward
// Gradients of one recorded LSTM direction (sigmoid/tanh) through time, given the forward's signals.
// sig: i, f, g, o, c (B, T, H) any strides; h (B, T, H); grads: the same seven signals' gradients
// (i, f, g, o, c, h (B, T, H), pre (B, T, 4H); an empty tensor where none) then dh_T, dc_T (B, H) (or empty).
// Returns dx (B, T, D), dW (4H, D), dR (4H, H), db (4H), dh0, dc0 (B, H).
std::vector<Tensor> lstm_record_backward(const Tensor& x_, const Tensor& W, const Tensor& R,
                                         const std::vector<Tensor>& sig, const Tensor& h0_, const Tensor& c0_,
                                         const c10::optional<Tensor>& lengths, bool reverse,
                                         const std::vector<Tensor>& grads) {
  TORCH_CHECK(sig.size() == 6 && grads.size() == 9, "lstm_record_backward: 6 signals and 9 gradients");
  const Tensor x = x_.contiguous();
  const int64_t B = x.size(0), Tn = x.size(1), H = R.size(1), G = 4 * H;
  auto tm = [&](const Tensor& v) { return v.transpose(0, 1).contiguous(); };  // (T, B, n) time-major
  std::vector<Tensor> S;
  for (int k = 0; k < 5; ++k) S.push_back(tm(sig[k]));
  const Tensor Hs = sig[5].contiguous(), h0 = h0_.contiguous(), c0 = c0_.contiguous();
  std::vector<Tensor> Gs;
  for (int k = 0; k < 7; ++k) Gs.push_back(grads[k].numel() ? tm(grads[k]) : grads[k]);
  Tensor dh = grads[7].numel() ? grads[7].contiguous().clone() : at::zeros({B, H}, x.options());
  Tensor dc = grads[8].numel() ? grads[8].contiguous().clone() : at::zeros({B, H}, x.options());
  Tensor DZ = at::zeros({B, Tn, G}, x.options()), HP = at::zeros({B, Tn, H}, x.options());
  Tensor Zs = at::zeros({B, G}, x.options()), dhR = at::empty({B, H}, x.options());
  Tensor len;
  if (lengths.has_value()) len = lengths->to(at::kLong).contiguous();
  const int64_t* Lp = len.defined() ? len.data_ptr<int64_t>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_record_backward", [&] {
    using T = scalar_t;
    const T *I = S[0].data_ptr<T>(), *F = S[1].data_ptr<T>(), *Gg = S[2].data_ptr<T>(), *O = S[3].data_ptr<T>();
    const T *C = S[4].data_ptr<T>(), *Hp = Hs.data_ptr<T>(), *H0 = h0.data_ptr<T>(), *C0 = c0.data_ptr<T>();
    const T* g[7];
    for (int k = 0; k < 7; ++k) g[k] = Gs[k].numel() ? Gs[k].data_ptr<T>() : nullptr;
    T *dZ = DZ.data_ptr<T>(), *hP = HP.data_ptr<T>(), *zs = Zs.data_ptr<T>(), *DH = dh.data_ptr<T>();
    T *DC = dc.data_ptr<T>(), *DHR = dhR.data_ptr<T>();
    const int64_t grain = std::max<int64_t>(1, 8192 / H);
    for (int64_t s = Tn - 1; s >= 0; --s) {
      at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t L = Lp ? Lp[b] : Tn;
          T* z = zs + b * G;
          if (s >= L) {  // not started yet (in reverse time): nothing flows, the carries wait
            std::fill(z, z + G, T(0));
            continue;
          }
          const int64_t t = reverse ? L - 1 - s : s, tp = s == 0 ? -1 : (reverse ? L - s : s - 1);
          const int64_t q = (t * B + b) * H, qb = (b * Tn + t);
          const T* cp = tp < 0 ? C0 + b * H : C + (tp * B + b) * H;
          const T* hp = tp < 0 ? H0 + b * H : Hp + (b * Tn + tp) * H;
          std::copy_n(hp, H, hP + qb * H);
          const T* gp = g[6] ? g[6] + (t * B + b) * G : nullptr;
          for (int64_t j = 0; j < H; ++j) {
            const T ii = I[q + j], ff = F[q + j], gg = Gg[q + j], oo = O[q + j], tc = std::tanh(C[q + j]);
            const T dhj = DH[b * H + j] + (g[5] ? g[5][q + j] : T(0));
            const T dcj = DC[b * H + j] + (g[4] ? g[4][q + j] : T(0)) + dhj * oo * (T(1) - tc * tc);
            const T dO = dhj * tc + (g[3] ? g[3][q + j] : T(0));
            const T dI = dcj * gg + (g[0] ? g[0][q + j] : T(0));
            const T dF = dcj * cp[j] + (g[1] ? g[1][q + j] : T(0));
            const T dG = dcj * ii + (g[2] ? g[2][q + j] : T(0));
            z[j] = dI * ii * (T(1) - ii) + (gp ? gp[j] : T(0));
            z[H + j] = dF * ff * (T(1) - ff) + (gp ? gp[H + j] : T(0));
            z[2 * H + j] = dG * (T(1) - gg * gg) + (gp ? gp[2 * H + j] : T(0));
            z[3 * H + j] = dO * oo * (T(1) - oo) + (gp ? gp[3 * H + j] : T(0));
            DC[b * H + j] = dcj * ff;
          }
          std::copy_n(z, G, dZ + qb * G);
        }
      });
      at::mm_out(dhR, Zs, R);  // dL/dh_{t-1} from this step's pre-activations
      at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          if (s < (Lp ? Lp[b] : Tn)) std::copy_n(DHR + b * H, H, DH + b * H);
      });
    }
  });
  const Tensor dz2 = DZ.view({B * Tn, G});
  Tensor dx = at::mm(dz2, W).view({B, Tn, x.size(2)});
  Tensor dW = at::mm(dz2.t(), x.view({B * Tn, x.size(2)}));
  Tensor dR = at::mm(dz2.t(), HP.view({B * Tn, H}));
  Tensor db = dz2.sum(0);
  return {dx, dW, dR, db, dh, dc};
}

// ------------------------------------------------------------------------------------- GRU backward
template <typename T>
inline Vec<T> ld(const T* p, int64_t n) {  // a vector from p, or zeros where there is no p (no gradient there)
  return p ? Vec<T>::loadu(p, n) : Vec<T>(T(0));
}

// Gradients of one recorded GRU direction (sigmoid/tanh, ResetGateMode `mode` as in run_gru) through time.
// Per step t (h_p = h_{t-1}, g_* the gradients reaching the recorded signals):
//   dh = dL/dh_t; dn = dh (1 - z) + g_n; dz = dh (h_p - n) + g_z; a_n = dn (1 - n^2) + g_pre_n;
//   a_z = dz z (1 - z) + g_pre_z; a_r = dr r (1 - r) + g_pre_r, where
//   dr = a_n hn (modes 0/2: hn = h_p R_h^T + b_Rh) or dr = (a_n R_h) ⊙ h_p (mode 1);
//   dh_p = dh z + [a_r, a_z, a_n ⊙ r] R (modes 0/2) or dh z + (a_n R_h) ⊙ r + [a_r, a_z] R_rz (mode 1).
// The input side [a_r, a_z, a_n] gives dx, dW, db_W for all steps at once; dR the recurrent side:
// [a_r, a_z, a_n ⊙ r]^T h_p (modes 0/2), [a_r, a_z]^T h_p and a_n^T (r ⊙ h_p) (mode 1);
// db_R (mode 2) = the column sums of [a_r, a_z, a_n ⊙ r].
// sig: r, z, n (B, T, H) any strides, h (B, T, H), hn (B, T, H) (modes 0/2; empty in mode 1);
// grads: r, z, n, h (B, T, H), pre (B, T, 3H) (an empty tensor where none), dh_T (B, H) (or empty).
// Returns dx (B, T, D), dW (3H, D), dR (3H, H), db (3H, or 6H = [db_W; db_R] in mode 2), dh0 (B, H).
std::vector<Tensor> gru_record_backward(const Tensor& x_, const Tensor& W, const Tensor& R_,
                                        const std::vector<Tensor>& sig, const Tensor& h0_,
                                        const c10::optional<Tensor>& lengths, int64_t mode, bool reverse,
                                        const std::vector<Tensor>& grads) {
  TORCH_CHECK(sig.size() == 5 && grads.size() == 6, "gru_record_backward: 5 signals and 6 gradients");
  TORCH_CHECK(mode >= 0 && mode <= 2, "gru_record_backward: mode");
  const Tensor x = x_.contiguous(), R = R_.contiguous();
  const int64_t B = x.size(0), Tn = x.size(1), D = x.size(2), H = R.size(1), G = 3 * H;
  const bool before = mode == 1;
  const int64_t Gh = before ? 2 * H : G;  // columns of the per-step recurrent gradient [a_r, a_z(, a_n ⊙ r)]
  TORCH_CHECK(before || sig[4].numel() == B * Tn * H, "gru_record_backward: hn needed in modes 0 and 2");
  auto tm = [&](const Tensor& v) { return v.transpose(0, 1).contiguous(); };  // (T, B, n) time-major
  std::vector<Tensor> S;
  for (int k = 0; k < 3; ++k) S.push_back(tm(sig[k]));
  const Tensor HN = before ? Tensor() : tm(sig[4]);
  const Tensor Hs = sig[3].contiguous(), h0 = h0_.contiguous();
  std::vector<Tensor> Gs;
  for (int k = 0; k < 5; ++k)  // h's gradient stays batch-major (as h), the others time-major
    Gs.push_back(grads[k].numel() ? (k == 3 ? grads[k].contiguous() : tm(grads[k])) : grads[k]);
  Tensor dd = grads[5].numel() ? grads[5].contiguous().clone() : at::zeros({B, H}, x.options());
  Tensor m = at::zeros({B, H}, x.options()), zs = at::zeros({B, Gh}, x.options());
  Tensor nb, rhd;  // before multiplication: a_n of the step and a_n R_h
  if (before) {
    nb = at::zeros({B, H}, x.options());
    rhd = at::empty({B, H}, x.options());
  }
  // all steps, batch-major: the input-side gradient [a_r, a_z, a_n], h_{t-1}, and aux = a_n ⊙ r (modes 0/2) or
  // r ⊙ h_{t-1} (mode 1); padded steps zero
  Tensor DZ = at::empty({B, Tn, G}, x.options()), HP = at::empty({B, Tn, H}, x.options());
  Tensor AUX = at::empty({B, Tn, H}, x.options());
  Tensor len;
  if (lengths.has_value()) len = lengths->to(at::kLong).contiguous();
  const int64_t* Lp = len.defined() ? len.data_ptr<int64_t>() : nullptr;
  const bool small = B * Gh * H <= 65536;
  const Tensor Rrz = R.narrow(0, 0, Gh), Rn = R.narrow(0, 2 * H, H);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_record_backward", [&] {
    using T = scalar_t;
    const int64_t V = Vec<T>::size();
    const T *Rg = S[0].data_ptr<T>(), *Zg = S[1].data_ptr<T>(), *Ng = S[2].data_ptr<T>();
    const T *Hn = before ? nullptr : HN.data_ptr<T>(), *Hp = Hs.data_ptr<T>(), *H0 = h0.data_ptr<T>();
    const T *Rp = R.data_ptr<T>();
    const T* g[5];
    for (int k = 0; k < 5; ++k) g[k] = Gs[k].numel() ? Gs[k].data_ptr<T>() : nullptr;
    T *DD = dd.data_ptr<T>(), *M = m.data_ptr<T>(), *ZS = zs.data_ptr<T>();
    T *NB = before ? nb.data_ptr<T>() : nullptr, *RHD = before ? rhd.data_ptr<T>() : nullptr;
    T *dZ = DZ.data_ptr<T>(), *hP = HP.data_ptr<T>(), *aux = AUX.data_ptr<T>();
    const int64_t grain = std::max<int64_t>(1, 8192 / H);
    const Vec<T> one(T(1));
    for (int64_t s = Tn - 1; s >= 0; --s) {
      // pass 1: everything but the reset gate's gradient before multiplication (which needs a_n R_h first)
      at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t L = Lp ? Lp[b] : Tn;
          T *ddb = DD + b * H, *mb = M + b * H, *zb = ZS + b * Gh;
          if (s >= L) {  // padded step (the forward's time s): nothing flows, dL/dh_T waits in dd. The backward
            // meets these before any of the sequence's own steps, so its row of m stays zero (zs, nb zero)
            const int64_t qb = b * Tn + s;
            std::fill(dZ + qb * G, dZ + (qb + 1) * G, T(0));
            std::fill(hP + qb * H, hP + (qb + 1) * H, T(0));
            std::fill(aux + qb * H, aux + (qb + 1) * H, T(0));
            std::fill(zb, zb + Gh, T(0));
            if (before) std::fill(NB + b * H, NB + (b + 1) * H, T(0));
            continue;
          }
          const int64_t t = reverse ? L - 1 - s : s, tp = s == 0 ? -1 : (reverse ? L - s : s - 1);
          const int64_t q = (t * B + b) * H, qb = b * Tn + t;
          const T* hp = tp < 0 ? H0 + b * H : Hp + (b * Tn + tp) * H;
          std::copy_n(hp, H, hP + qb * H);
          const T *gr = g[0] ? g[0] + q : nullptr, *gz = g[1] ? g[1] + q : nullptr, *gn = g[2] ? g[2] + q : nullptr;
          const T* gh = g[3] ? g[3] + qb * H : nullptr;
          const T* gp = g[4] ? g[4] + (t * B + b) * G : nullptr;
          T *dz = dZ + qb * G, *ax = aux + qb * H;
          for (int64_t j = 0; j < H; j += V) {
            const int64_t n = std::min(V, H - j);
            const Vec<T> dh = Vec<T>::loadu(ddb + j, n) + Vec<T>::loadu(mb + j, n) + ld(gh ? gh + j : nullptr, n);
            const Vec<T> r = Vec<T>::loadu(Rg + q + j, n), z = Vec<T>::loadu(Zg + q + j, n);
            const Vec<T> c = Vec<T>::loadu(Ng + q + j, n), hv = Vec<T>::loadu(hp + j, n);
            const Vec<T> dn = dh * (one - z) + ld(gn ? gn + j : nullptr, n);
            const Vec<T> dzt = dh * (hv - c) + ld(gz ? gz + j : nullptr, n);
            const Vec<T> an = dn * (one - c * c) + ld(gp ? gp + 2 * H + j : nullptr, n);
            const Vec<T> az = dzt * z * (one - z) + ld(gp ? gp + H + j : nullptr, n);
            (dh * z).store(ddb + j, n);
            az.store(dz + H + j, n);
            an.store(dz + 2 * H + j, n);
            az.store(zb + H + j, n);
            if (before) {
              an.store(NB + b * H + j, n);
              (r * hv).store(ax + j, n);
            } else {
              const Vec<T> dr = an * Vec<T>::loadu(Hn + q + j, n) + ld(gr ? gr + j : nullptr, n);
              const Vec<T> ar = dr * r * (one - r) + ld(gp ? gp + j : nullptr, n);
              const Vec<T> anr = an * r;
              ar.store(dz + j, n);
              ar.store(zb + j, n);
              anr.store(zb + 2 * H + j, n);
              anr.store(ax + j, n);
            }
          }
        }
      });
      if (before) {  // a_n R_h (the gradient reaching r ⊙ h_{t-1}), then the reset gate's part
        if (small)
          small_mm<T>(RHD, NB, Rp + 2 * H * H, B, H, H);
        else
          at::mm_out(rhd, nb, Rn);
        at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
          for (int64_t b = b0; b < b1; ++b) {
            const int64_t L = Lp ? Lp[b] : Tn;
            if (s >= L) continue;
            const int64_t t = reverse ? L - 1 - s : s, q = (t * B + b) * H, qb = b * Tn + t;
            const T *gr = g[0] ? g[0] + q : nullptr, *gp = g[4] ? g[4] + (t * B + b) * G : nullptr;
            const T *hv = hP + qb * H, *drh = RHD + b * H;
            T *ddb = DD + b * H, *zb = ZS + b * Gh, *dz = dZ + qb * G;
            for (int64_t j = 0; j < H; j += V) {
              const int64_t n = std::min(V, H - j);
              const Vec<T> r = Vec<T>::loadu(Rg + q + j, n), d = Vec<T>::loadu(drh + j, n);
              const Vec<T> dr = d * Vec<T>::loadu(hv + j, n) + ld(gr ? gr + j : nullptr, n);
              const Vec<T> ar = dr * r * (one - r) + ld(gp ? gp + j : nullptr, n);
              (Vec<T>::loadu(ddb + j, n) + d * r).store(ddb + j, n);
              ar.store(zb + j, n);
              ar.store(dz + j, n);
            }
          }
        });
      }
      // the recurrent product's part of dL/dh_{t-1}; the next step adds dd
      if (small)
        small_mm<T>(M, ZS, Rp, B, Gh, H);
      else
        at::mm_out(m, zs, Rrz);
    }
  });
  Tensor dh0 = dd + m;
  const Tensor dz2 = DZ.view({B * Tn, G}), hp2 = HP.view({B * Tn, H}), ax2 = AUX.view({B * Tn, H});
  Tensor dx = at::mm(dz2, W).view({B, Tn, D});
  Tensor dW = at::mm(dz2.t(), x.view({B * Tn, D}));
  Tensor dR = at::empty({G, H}, x.options()), dRrz = dR.narrow(0, 0, 2 * H), dRn = dR.narrow(0, 2 * H, H);
  at::mm_out(dRrz, dz2.narrow(1, 0, 2 * H).t(), hp2);
  if (before)
    at::mm_out(dRn, dz2.narrow(1, 2 * H, H).t(), ax2);
  else
    at::mm_out(dRn, ax2.t(), hp2);
  Tensor db = dz2.sum(0);
  if (mode == 2) db = at::cat({db, db.narrow(0, 0, 2 * H), ax2.sum(0)});
  return {dx, dW, dR, db, dh0};
}
}  // namespace

TORCH_LIBRARY(NAMESPACE, m) {
  m.def("lstm_record(Tensor x, Tensor WR, Tensor bias, Tensor h0, Tensor c0, Tensor? lengths, bool reverse, "
        "int want) -> Tensor[]", &lstm_record);
  m.def("gru_record(Tensor x, Tensor W, Tensor R, Tensor bias, Tensor h0, Tensor? lengths, int mode, bool reverse, "
        "int want) -> Tensor[]", &gru_record);
  m.def("lstm_record_backward(Tensor x, Tensor W, Tensor R, Tensor[] sig, Tensor h0, Tensor c0, Tensor? lengths, "
        "bool reverse, Tensor[] grads) -> Tensor[]", &lstm_record_backward);
  m.def("gru_record_backward(Tensor x, Tensor W, Tensor R, Tensor[] sig, Tensor h0, Tensor? lengths, int mode, "
        "bool reverse, Tensor[] grads) -> Tensor[]", &gru_record_backward);
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
_OPS = ("lstm_record", "gru_record", "lstm_record_backward", "gru_record_backward")


def _build() -> Any:
    """Compile (or load the cached build) and return the operators' namespace; raises on any failure."""
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
    name = f"dltk_rnn_{key}"
    ns = getattr(torch.ops, name)
    if not all(hasattr(ns, o) for o in _OPS):
        build_dir = cpp_extension._get_build_directory(name, False)
        failed = os.path.join(build_dir, "dltk_build_failed.txt")
        if os.path.exists(failed):  # do not retry a failed build in every new process
            raise RuntimeError(f"an earlier build failed (delete {failed} to retry)")
        if not os.path.exists(os.path.join(build_dir, f"{name}.so")):
            print("dltk: compiling the LSTM/GRU recording loops (once per machine, about a minute)…", file=sys.stderr)
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
    return ns


def op() -> Any:
    """The compiled operators' namespace (``.lstm_record``, ``.gru_record``), or None.

    Built on first use; failures are remembered.
    """
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


def _bits(want: Any) -> int:
    return sum(1 << k for k, w in enumerate(want) if w)


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
) -> tuple[Tensor, Tensor, Tensor, Any]:
    """One LSTM direction (sigmoid/tanh) with every wanted signal, in original time order.

    ``want``: 7 booleans in ``LSTM_SIGNALS`` order (i, f, g, o, c, h, gates_pre).
    Returns (h (B, T, H) with zeros at padded steps, h_T, c_T (B, H) each
    sequence's own, the 7 signals (B, T, ·), None where not wanted).
    ``reverse`` runs the backward direction (each sequence from its own last step).
    ``want`` may also be a predicate on the signal names; the signals then come
    back as a dict ``{name: tensor}`` of the wanted ones (the recogniser of
    ``torch.nn.LSTM`` modules calls it so).
    """
    if callable(want):
        from .lstm import LSTM_SIGNALS  # the names live with the layer (imported here: lstm imports this module)

        h, hT, cT, sigs = lstm_record(x, h0, c0, W, R, b, lengths, reverse, [want(n) for n in LSTM_SIGNALS])
        return h, hT, cT, {n: v for n, v in zip(LSTM_SIGNALS, sigs) if v is not None}
    bits = _bits(want)
    L = None if lengths is None else lengths.to(torch.long)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, W, R, b, h0, c0)):
        res = _LSTMRecord.apply(x, W, R, b, h0, c0, L, reverse, bool(bits >> 6 & 1))
    else:
        res = op().lstm_record(x, torch.cat([W, R], 1), b, h0, c0, L, reverse, bits)
    return res[5], res[7], res[8], [res[k] if bits >> k & 1 else None for k in range(7)]


class _LSTMRecord(torch.autograd.Function):
    """The compiled LSTM recording loop with autograd: backward through time in C++ from the recorded gates.

    Forward: the loop of :func:`lstm_record` keeping i, f, g, o, c, h (what the
    backward needs; the pre-activations only when wanted). Backward: per step
    one (B, 4H)·(4H, H) product and one pass over the step's values, adding the
    gradients that reach the recorded signals themselves (∂loss/∂c_t, …); then
    ∂W, ∂R, ∂b, ∂x from all steps at once.
    """

    @staticmethod
    def forward(ctx, x, W, R, b, h0, c0, lengths, reverse, want_pre):  # noqa: ANN001, ANN205
        bits = 0b111111 | (64 if want_pre else 0)
        res = op().lstm_record(x, torch.cat([W, R], 1), b, h0, c0, lengths, reverse, bits)
        ctx.save_for_backward(x, W, R, h0, c0, *res[:6])
        ctx.lengths, ctx.reverse = lengths, reverse
        return tuple(res)

    @staticmethod
    def backward(ctx, *grads):  # noqa: ANN001, ANN205
        x, W, R, h0, c0, *sig = ctx.saved_tensors
        empty = x.new_empty(0)
        g = [empty if v is None or v.numel() == 0 else v for v in grads]
        dx, dW, dR, db, dh0, dc0 = op().lstm_record_backward(x, W, R, sig, h0, c0, ctx.lengths, ctx.reverse, g)
        return dx, dW, dR, db, dh0, dc0, None, None, None


def gru_record(
    x: Tensor,
    h0: Tensor,
    W: Tensor,
    R: Tensor,
    bx: Tensor,
    bh: Tensor | None,
    mode: int,
    lengths: Tensor | None,
    want: Any,
    reverse: bool = False,
) -> tuple[Tensor, Tensor, list[Tensor | None]]:
    """One GRU direction (sigmoid/tanh, any ResetGateMode) with every wanted signal.

    ``bx``: input bias (3H); ``bh``: recurrent bias (3H, recurrent-bias mode) or None.
    ``mode``: the index of the ResetGateMode in ``dltk.layers.gru.RESET_GATE_MODES`` (after-multiplication,
    before-multiplication, recurrent-bias-after-multiplication).
    ``want``: 5 booleans in ``GRU_SIGNALS`` order (r, z, h~, h, gates_pre).
    Returns (h (B, T, H) with zeros at padded steps, h_T (B, H) each sequence's
    own, the 5 signals (B, T, ·), None where not wanted), in original time order.
    ``reverse`` runs the backward direction (each sequence from its own last step).
    """
    bits = _bits(want)
    L = None if lengths is None else lengths.to(torch.long)
    b = bx if bh is None else torch.cat([bx, bh])
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, W, R, b, h0)):
        res = _GRURecord.apply(x, W, R, b, h0, L, mode, reverse, bool(bits >> 4 & 1))
    else:
        res = op().gru_record(x, W, R, b, h0, L, mode, reverse, bits)
    return res[3], res[5], [res[k] if bits >> k & 1 else None for k in range(5)]


class _GRURecord(torch.autograd.Function):
    """The compiled GRU recording loop with autograd: backward through time in C++ from the recorded signals.

    Forward: the loop of :func:`gru_record` keeping r, z, h~, h (what the
    backward needs; the pre-activations only when wanted) and, after
    multiplication (modes 0 and 2), the candidate's recurrent part
    ``h_{t−1} R_hᵀ (+ b_Rh)``. Backward: per step one pass over the step's
    values and one (B, 3H)·(3H, H) product for ∂loss/∂h_{t−1} (before
    multiplication two: the chain through r ⊙ h_{t−1} first), adding the
    gradients that reach the recorded signals themselves; then ∂W, ∂R, ∂b, ∂x
    from all steps at once. Outputs: r, z, h~, h, pre (empty unless
    ``want_pre``), h_T.
    """

    @staticmethod
    def forward(ctx, x, W, R, b, h0, lengths, mode, reverse, want_pre):  # noqa: ANN001, ANN205
        bits = 0b1111 | (16 if want_pre else 0) | (32 if mode != 1 else 0)
        res = op().gru_record(x, W, R, b, h0, lengths, mode, reverse, bits)
        ctx.save_for_backward(x, W, R, h0, *res[:4], res[6])
        ctx.lengths, ctx.mode, ctx.reverse = lengths, mode, reverse
        ctx.set_materialize_grads(False)  # unused outputs: no gradient, no zeros to add
        return tuple(res[:6])

    @staticmethod
    def backward(ctx, *grads):  # noqa: ANN001, ANN205
        x, W, R, h0, *sig = ctx.saved_tensors
        empty = x.new_empty(0)
        g = [empty if v is None or v.numel() == 0 else v for v in grads]
        dx, dW, dR, db, dh0 = op().gru_record_backward(x, W, R, sig, h0, ctx.lengths, ctx.mode, ctx.reverse, g)
        return dx, dW, dR, db, dh0, None, None, None, None
