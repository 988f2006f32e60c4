/*
 * Fused selective scan (Mamba's S6) for the CPU: forward and backward, float32.
 *
 * Plain C (GNU vector extensions, no Python or torch headers), compiled at first
 * use by memamba_core/ssm/cpu_kernel.py and called through ctypes, one call per
 * thread, each on its own channel range [e0, e1).
 *
 * Glossary: B batch, E inner width (channels), S state size, L length,
 * T chunk length (state checkpoint spacing), W = 8 lanes (channels) per vector.
 *
 * Recurrence, per batch b and channel e (Δ after bias and softplus):
 *     x_t = exp(Δ_t A) ⊙ x_{t-1} + Δ_t u_t B_t        x: (S,)
 *     y_t = (⟨C_t, x_t⟩ + D u_t) · silu(z_t)
 *
 * Layout: a vector holds W consecutive channels; per step t the S states of
 * those channels are updated one after the other. Streams: element [t, b, i]
 * lives at p[t*st + b*sb + i] (i = e for y and the gradients, i = s for B, C and
 * their gradients), so the (B, L, E) memory of the Mamba block and row-strided
 * slices are used in place. The inputs u, Δ, z also take a channel stride se
 * (p[t*st + b*sb + e*se]): with se ≠ 1 (e.g. the (B, E, L)-contiguous layout)
 * a chunk's rows are transposed into a small buffer per channel group.
 * Parameters are zero-padded to E8 = E rounded up to W: A, A·log2 e and dA as
 * (E8/W, S, W) (each group's S×W block contiguous), D, Δ bias and their
 * gradients as (E8,). States (h, checkpoints) are (…, B, S, E).
 *
 * The sequence is walked chunk-major (for each chunk of T steps, every channel
 * group of the range), so a chunk's rows of every stream stay in cache while
 * the groups pass over them. The forward can store the state entering every
 * chunk; the backward walks the chunks last to first, recomputes a chunk's
 * states (and decays) from its checkpoint into a small buffer, and runs the
 * adjoint λ_t = C_t dy_t + exp(Δ_{t+1} A) ⊙ λ_{t+1} backwards in time.
 * Sums over channels (dB, dC) are accumulated lane-wise per chunk and reduced
 * once per chunk into this call's own partial buffer; the caller adds the
 * threads' partials.
 *
 * exp is a degree-5 minimax polynomial for 2^f on [-1/2, 1/2] times 2^n
 * (≤ ~2 ulp), written so that NaN propagates, very negative arguments give an
 * exact 0 and large positive ones +inf; no -ffast-math is needed.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define SS_ABI_VERSION 2
#define W 8

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

typedef struct {
    int64_t L, B, E, S, T; /* sizes; T: chunk length */
    int64_t e0, e1;        /* channel range of this call; e0 a multiple of W */
    const float *u;     int64_t u_t, u_b, u_e;
    const float *delta; int64_t delta_t, delta_b, delta_e;  /* Δ before bias / softplus */
    const float *z;     int64_t z_t, z_b, z_e;              /* gate, or NULL */
    const float *Bm;    int64_t Bm_t, Bm_b;
    const float *Cm;    int64_t Cm_t, Cm_b;
    const float *A;     /* (E8/W, S, W) */
    const float *A2;    /* (E8/W, S, W): A·log2(e) */
    const float *D;     /* (E8,) or NULL */
    const float *bias;  /* (E8,) or NULL */
    int64_t softplus;
    float *y;           int64_t y_t, y_b;          /* forward output */
    float *h;           /* (B, S, E) state in / out, or NULL (zero start) */
    float *ckpt;        /* (n_chunks, B, S, E) state entering each chunk, or NULL */
    /* backward only */
    const float *gy;    int64_t gy_t, gy_b;
    float *gu;          int64_t gu_t, gu_b;
    float *gdelta;      int64_t gdelta_t, gdelta_b; /* gradient of Δ before bias / softplus */
    float *gz;          int64_t gz_t, gz_b;         /* or NULL (when z is NULL) */
    float *gB;          int64_t gB_t, gB_b;         /* this call's partial Σ_e */
    float *gC;          int64_t gC_t, gC_b;
    float *gA;          /* (E8/W, S, W), this call's channels written */
    float *gD;          /* (E8,) or NULL */
    float *gbias;       /* (E8,) or NULL */
} ss_args;

int64_t ss_abi_version(void) { return SS_ABI_VERSION; }

/* Ask for transparent huge pages on a fresh, not yet touched output buffer (Linux; elsewhere a
 * no-op): faulting in 2 MiB pages instead of 4 KiB ones makes first writes to a large new tensor
 * several times cheaper. Only whole 2 MiB pages inside [p, p + bytes) are advised. */
int64_t ss_advise_huge(void *p, int64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t page = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + (uintptr_t)bytes) & ~(page - 1);
    if (hi > lo) return madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
    return 0;
}

/* ---- vector helpers ----------------------------------------------------------------------- */

static inline v8f bc(float x) { return (v8f){x, x, x, x, x, x, x, x}; }
static inline v8f ld(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
static inline void st(float *p, v8f v) { memcpy(p, &v, sizeof v); }

/* the first n (≤ W) lanes; the others read as 0 / are not written */
static inline v8f ldn(const float *p, int n) {
    if (n == W) return ld(p);
    v8f v = bc(0.0f);
    for (int k = 0; k < n; k++) v[k] = p[k];
    return v;
}
static inline void stn(float *p, v8f v, int n) {
    if (n == W) { st(p, v); return; }
    for (int k = 0; k < n; k++) p[k] = v[k];
}

/* c > x ? c : x, and c < x ? c : x: a NaN x is returned as is */
static inline v8f max_c(v8f c, v8f x) {
#if defined(__AVX__)
    return (v8f)_mm256_max_ps((__m256)c, (__m256)x);
#else
    v8i m = c > x;
    return (v8f)((m & (v8i)c) | (~m & (v8i)x));
#endif
}
static inline v8f min_c(v8f c, v8f x) {
#if defined(__AVX__)
    return (v8f)_mm256_min_ps((__m256)c, (__m256)x);
#else
    v8i m = c < x;
    return (v8f)((m & (v8i)c) | (~m & (v8i)x));
#endif
}
static inline v8f vselect(v8i m, v8f a, v8f b) { return (v8f)((m & (v8i)a) | (~m & (v8i)b)); }

/* 2^x. x ≤ -127 → 0, x ≥ 128 → inf, NaN → NaN. */
static inline v8f vexp2(v8f x) {
    const float magic = 12582912.0f + 127.0f; /* 1.5·2^23 + bias: x + magic rounds x to an integer n */
    x = max_c(bc(-127.0f), x);
    x = min_c(bc(128.0f), x);
    v8f t = x + magic;
    v8f f = x - (t - magic); /* in [-1/2, 1/2] */
    v8f p = bc(1.327647245e-03f);
    p = p * f + 9.675540961e-03f;
    p = p * f + 5.550713092e-02f;
    p = p * f + 2.402212024e-01f;
    p = p * f + 6.931469440e-01f;
    p = p * f + 1.000000119e+00f;
    v8f scale = (v8f)((v8i)t << 23); /* 2^n: the low bits of t hold n + 127 */
    return p * scale;
}

static inline v8f vexp(v8f x) { return vexp2(x * 1.44269504088896341f); }

/* natural log of positive normal floats (Cephes logf) */
static inline v8f vlog(v8f x) {
    v8i bits = (v8i)x;
    v8i e = ((bits >> 23) & 0xff) - 126;
    v8f m = (v8f)((bits & 0x807fffff) | 0x3f000000); /* in [1/2, 1) */
    v8i small = m < 0.707106781186547524f;
    e = e + small; /* small is -1 where true */
    v8f xm = m + (v8f)(small & (v8i)m) - 1.0f;
    v8f fe = (v8f)(e + 0x4b400000) - 12582912.0f; /* exact int → float for small |e| */
    v8f zz = xm * xm;
    v8f y = bc(7.0376836292e-2f);
    y = y * xm - 1.1514610310e-1f;
    y = y * xm + 1.1676998740e-1f;
    y = y * xm - 1.2420140846e-1f;
    y = y * xm + 1.4249322787e-1f;
    y = y * xm - 1.6668057665e-1f;
    y = y * xm + 2.0000714765e-1f;
    y = y * xm - 2.4999993993e-1f;
    y = y * xm + 3.3333331174e-1f;
    y = y * xm * zz;
    y = y + fe * -2.12194440e-4f;
    y = y - 0.5f * zz;
    return xm + y + fe * 0.693359375f;
}

/* Δ after bias and softplus (torch's threshold 20); *sig ← softplus' = sigmoid of the argument */
static inline v8f step_size(v8f d, v8f bias, int softplus, v8f *sig) {
    d = d + bias;
    if (!softplus) { *sig = bc(1.0f); return d; }
    v8f ex = vexp(min_c(bc(20.0f), d));
    v8f w = ex + 1.0f;
    v8f r = 1.0f / w;
    v8f lp = vlog(w) - ((w - 1.0f) - ex) * r; /* log1p(ex), exact for tiny ex */
    v8i big = d > 20.0f;
    v8i nan = d != d;
    *sig = vselect(big, bc(1.0f), ex * r);
    return vselect(big | nan, d, lp);
}

static inline v8f sigmoid(v8f z) { return 1.0f / (1.0f + vexp(-z)); }

static v8f *alloc_vectors(int64_t n) {
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(v8f);
    bytes = (bytes + 63) & ~(size_t)63;
    return (v8f *)aligned_alloc(64, bytes);
}

/* ---- input staging ------------------------------------------------------------------------ */

/* the element [t, b, e] of an output stream, or of an input stream with unit channel stride */
#define ROW(a, name, t, b, e) ((a)->name + (t) * (a)->name##_t + (b) * (a)->name##_b + (e))

/* Rows of the (t, e) streams are E apart, so a group's walk down a chunk touches a new
 * cache line every step and the hardware prefetchers (which stay within a page) miss
 * them: fetch the line two groups ahead (the next 64 bytes of the same row) now. */
#define PREFETCH(p) __builtin_prefetch((p) + 2 * W, 0, 2)

#if defined(__AVX__)
/* dst[j*W + k] = src[k*ld + j] for j, k < 8 */
static inline void transpose8(const float *src, int64_t ld, float *dst) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld);
    __m256 r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld);
    __m256 r4 = _mm256_loadu_ps(src + 4 * ld), r5 = _mm256_loadu_ps(src + 5 * ld);
    __m256 r6 = _mm256_loadu_ps(src + 6 * ld), r7 = _mm256_loadu_ps(src + 7 * ld);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst + 0 * W, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + 1 * W, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * W, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * W, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * W, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * W, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * W, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * W, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#endif

/* Rows [t0, t0 + nt) of input stream (base; strides st, sb, se) for channels [e, e + n) of batch b.
 * Returns p with row i at p + i * (*stride): the stream itself when its channel stride is 1,
 * else a copy in buf (nt × W, lanes ≥ n zeroed), transposed 8 × 8 at a time when time is
 * its unit-stride axis (the (B, E, L)-contiguous layout). */
static const float *chunk_in(const float *base, int64_t s_t, int64_t s_b, int64_t s_e, int64_t b, int64_t e, int n,
                             int64_t t0, int64_t nt, float *buf, int64_t *stride) {
    const float *p = base + t0 * s_t + b * s_b + e * s_e;
    if (s_e == 1) {
        *stride = s_t;
        return p;
    }
    int64_t i = 0;
    *stride = W;
    if (s_t == 1) /* the next group's rows: separate pages each, which the hardware does not prefetch */
        for (int k = W; k < 2 * W; k++)
            for (int64_t j = 0; j < nt; j += 16) __builtin_prefetch(p + k * s_e + j, 0, 2);
#if defined(__AVX__)
    if (s_t == 1 && n == W)
        for (; i + W <= nt; i += W) transpose8(p + i, s_e, buf + i * W);
#endif
    for (; i < nt; i++)
        for (int k = 0; k < W; k++) buf[i * W + k] = k < n ? p[i * s_t + k * s_e] : 0.0f;
    return buf;
}

typedef struct {
    const float *u, *dl, *z; /* the chunk's rows of u, Δ (before bias / softplus), z (or NULL) */
    int64_t su, sd, sz;      /* their row strides */
} chunk_inputs;

static chunk_inputs stage_inputs(const ss_args *a, int64_t b, int64_t e, int n, int64_t t0, int64_t nt, float *buf) {
    chunk_inputs c;
    const int64_t T = a->T;
    c.u = chunk_in(a->u, a->u_t, a->u_b, a->u_e, b, e, n, t0, nt, buf, &c.su);
    c.dl = chunk_in(a->delta, a->delta_t, a->delta_b, a->delta_e, b, e, n, t0, nt, buf + T * W, &c.sd);
    c.z = NULL;
    c.sz = 0;
    if (a->z) c.z = chunk_in(a->z, a->z_t, a->z_b, a->z_e, b, e, n, t0, nt, buf + 2 * T * W, &c.sz);
    return c;
}

/* ---- forward ------------------------------------------------------------------------------ */

/* Per-step terms of a chunk, computed in a pass of their own before the recurrence: they are
 * long dependency chains (softplus: exp, log, a division) that would otherwise sit at the head
 * of every step, each step's S updates waiting on them. */
typedef struct {
    v8f *dl;   /* (T,): Δ_t after bias and softplus */
    v8f *sg;   /* (T,): softplus' = sigmoid of Δ_t's argument (backward only) */
    v8f *gate; /* (T,): silu(z_t) (forward) or sigmoid(z_t) (backward), when z is given */
} step_terms;

static inline void prepass(const ss_args *a, const chunk_inputs *in, int64_t e, int n, int64_t nt,
                           const step_terms *w, int for_backward) {
    const v8f bias = a->bias ? ld(a->bias + e) : bc(0.0f);
    for (int64_t i = 0; i < nt; i++) {
        v8f sig;
        w->dl[i] = step_size(ldn(in->dl + i * in->sd, n), bias, (int)a->softplus, &sig);
        if (for_backward) w->sg[i] = sig;
    }
    if (in->z)
        for (int64_t i = 0; i < nt; i++) {
            v8f zv = ldn(in->z + i * in->sz, n);
            w->gate[i] = for_backward ? sigmoid(zv) : zv * sigmoid(zv);
        }
}

/* steps [t0, t0 + nt) of one group of n channels from e; state hg (S vectors) updated in place */
static inline __attribute__((always_inline)) void fwd_chunk(const ss_args *a, int64_t b, int64_t e, int n,
                                                            int64_t t0, int64_t nt, v8f *hg, float *buf,
                                                            const step_terms *w, const int64_t S) {
    const v8f Dv = a->D ? ld(a->D + e) : bc(0.0f);
    const float *A2 = a->A2 + e * S;
    const chunk_inputs in = stage_inputs(a, b, e, n, t0, nt, buf);
    prepass(a, &in, e, n, nt, w, 0);
    for (int64_t i = 0; i < nt; i++) {
        const int64_t t = t0 + i;
        const float *ut = in.u + i * in.su;
        float *yt = ROW(a, y, t, b, e);
        PREFETCH(ut);
        PREFETCH(in.dl + i * in.sd);
        PREFETCH(yt);
        if (in.z) PREFETCH(in.z + i * in.sz);
        v8f dv = w->dl[i];
        v8f uv = ldn(ut, n);
        v8f du = dv * uv;
        const float *Bt = ROW(a, Bm, t, b, 0), *Ct = ROW(a, Cm, t, b, 0);
        v8f y0 = bc(0.0f), y1 = bc(0.0f);
        int64_t s = 0;
        for (; s + 1 < S; s += 2) {
            v8f a0 = vexp2(dv * ld(A2 + s * W));
            v8f a1 = vexp2(dv * ld(A2 + (s + 1) * W));
            v8f h0 = a0 * hg[s] + du * Bt[s];
            v8f h1 = a1 * hg[s + 1] + du * Bt[s + 1];
            hg[s] = h0;
            hg[s + 1] = h1;
            y0 = y0 + h0 * Ct[s];
            y1 = y1 + h1 * Ct[s + 1];
        }
        if (s < S) {
            v8f a0 = vexp2(dv * ld(A2 + s * W));
            v8f h0 = a0 * hg[s] + du * Bt[s];
            hg[s] = h0;
            y0 = y0 + h0 * Ct[s];
        }
        v8f yv = y0 + y1 + Dv * uv;
        if (in.z) yv = yv * w->gate[i];
        stn(yt, yv, n);
    }
}

int64_t ss_forward(const ss_args *a) {
    const int64_t L = a->L, Bn = a->B, E = a->E, S = a->S, T = a->T;
    const int64_t groups = (a->e1 - a->e0 + W - 1) / W;
    v8f *hs = alloc_vectors(groups * S);
    float *buf = (float *)alloc_vectors(3 * T); /* staged u, Δ, z: (T, W) each */
    step_terms w = {alloc_vectors(T), NULL, alloc_vectors(T)};
    if (!hs || !buf || !w.dl || !w.gate) {
        free(hs);
        free(buf);
        free(w.dl);
        free(w.gate);
        return 1;
    }
    for (int64_t b = 0; b < Bn; b++) {
        for (int64_t g = 0; g < groups; g++) {
            int64_t e = a->e0 + g * W;
            int n = (int)(a->e1 - e < W ? a->e1 - e : W);
            for (int64_t s = 0; s < S; s++)
                hs[g * S + s] = a->h ? ldn(a->h + (b * S + s) * E + e, n) : bc(0.0f);
        }
        for (int64_t t0 = 0, c = 0; t0 < L; t0 += T, c++) {
            const int64_t nt = t0 + T < L ? T : L - t0;
            for (int64_t g = 0; g < groups; g++) {
                int64_t e = a->e0 + g * W;
                int n = (int)(a->e1 - e < W ? a->e1 - e : W);
                v8f *hg = hs + g * S;
                if (a->ckpt)
                    for (int64_t s = 0; s < S; s++) stn(a->ckpt + ((c * Bn + b) * S + s) * E + e, hg[s], n);
                if (S == 16)
                    fwd_chunk(a, b, e, n, t0, nt, hg, buf, &w, 16);
                else
                    fwd_chunk(a, b, e, n, t0, nt, hg, buf, &w, S);
            }
        }
        if (a->h)
            for (int64_t g = 0; g < groups; g++) {
                int64_t e = a->e0 + g * W;
                int n = (int)(a->e1 - e < W ? a->e1 - e : W);
                for (int64_t s = 0; s < S; s++) stn(a->h + (b * S + s) * E + e, hs[g * S + s], n);
            }
    }
    free(hs);
    free(buf);
    free(w.dl);
    free(w.gate);
    return 0;
}

/* ---- backward ----------------------------------------------------------------------------- */

typedef struct {
    v8f *X, *Dc;        /* (T, S): states x_t, decays exp(Δ_t A) of the chunk */
    v8f *yc;            /* (T,): ⟨C_t, x_t⟩ */
    step_terms terms;   /* Δ_t, its softplus', sigmoid(z_t) */
    v8f *gBv, *gCv;     /* (T, S): lane-wise partial sums of dB, dC over the groups */
    float *in;          /* staged u, Δ, z: (T, W) each */
} bwd_buffers;

/* one group of n channels from e over steps [t0, t0 + nt): recompute, then the adjoint backwards;
 * carry (S vectors) holds exp(Δ_{t1} A) ⊙ λ_{t1} from the chunk after, updated for the one before */
static inline __attribute__((always_inline)) void bwd_chunk(const ss_args *a, const bwd_buffers *w, int64_t b,
                                                            int64_t e, int n, int64_t t0, int64_t nt,
                                                            const v8f *h0, v8f *carry, v8f *gA, v8f *gD,
                                                            v8f *gbias, const int64_t S) {
    const v8f Dv = a->D ? ld(a->D + e) : bc(0.0f);
    const float *A = a->A + e * S, *A2 = a->A2 + e * S;
    const chunk_inputs in = stage_inputs(a, b, e, n, t0, nt, w->in);
    prepass(a, &in, e, n, nt, &w->terms, 1);
    /* recompute the chunk's states from its checkpoint */
    for (int64_t i = 0; i < nt; i++) {
        const int64_t t = t0 + i;
        const float *ut = in.u + i * in.su;
        PREFETCH(ut);
        PREFETCH(in.dl + i * in.sd);
        v8f dv = w->terms.dl[i];
        v8f du = dv * ldn(ut, n);
        const float *Bt = ROW(a, Bm, t, b, 0), *Ct = ROW(a, Cm, t, b, 0);
        const v8f *xp = i ? w->X + (i - 1) * S : h0;
        v8f *x = w->X + i * S, *dc = w->Dc + i * S;
        v8f y0 = bc(0.0f), y1 = bc(0.0f);
        int64_t s = 0;
        for (; s + 1 < S; s += 2) {
            v8f d0 = vexp2(dv * ld(A2 + s * W));
            v8f d1 = vexp2(dv * ld(A2 + (s + 1) * W));
            v8f x0 = d0 * xp[s] + du * Bt[s];
            v8f x1 = d1 * xp[s + 1] + du * Bt[s + 1];
            dc[s] = d0;
            dc[s + 1] = d1;
            x[s] = x0;
            x[s + 1] = x1;
            y0 = y0 + x0 * Ct[s];
            y1 = y1 + x1 * Ct[s + 1];
        }
        if (s < S) {
            v8f d0 = vexp2(dv * ld(A2 + s * W));
            v8f x0 = d0 * xp[s] + du * Bt[s];
            dc[s] = d0;
            x[s] = x0;
            y0 = y0 + x0 * Ct[s];
        }
        w->yc[i] = y0 + y1;
    }
    /* the adjoint, backwards in time */
    for (int64_t i = nt - 1; i >= 0; i--) {
        const int64_t t = t0 + i;
        const float *gyt = ROW(a, gy, t, b, e);
        float *gut = ROW(a, gu, t, b, e), *gdt = ROW(a, gdelta, t, b, e);
        PREFETCH(gyt);
        PREFETCH(gut);
        PREFETCH(gdt);
        v8f gy = ldn(gyt, n);
        v8f uv = ldn(in.u + i * in.su, n);
        v8f dv = w->terms.dl[i];
        v8f gyc = gy; /* gradient of ⟨C_t, x_t⟩ + D u_t */
        if (in.z) {
            float *gzt = ROW(a, gz, t, b, e);
            PREFETCH(gzt);
            v8f zv = ldn(in.z + i * in.sz, n);
            v8f sz = w->terms.gate[i];
            v8f yfull = w->yc[i] + Dv * uv;
            stn(gzt, gy * yfull * sz * (1.0f + zv * (1.0f - sz)), n);
            gyc = gy * (zv * sz);
        }
        *gD = *gD + gyc * uv;
        v8f du = dv * uv;
        const float *Bt = ROW(a, Bm, t, b, 0), *Ct = ROW(a, Cm, t, b, 0);
        const v8f *x = w->X + i * S, *dc = w->Dc + i * S;
        const v8f *xp = i ? w->X + (i - 1) * S : h0;
        v8f *gBv = w->gBv + i * S, *gCv = w->gCv + i * S;
        v8f lb0 = bc(0.0f), lb1 = bc(0.0f), gd0 = bc(0.0f), gd1 = bc(0.0f);
        int64_t s = 0;
        for (; s + 1 < S; s += 2) {
            v8f l0 = carry[s] + gyc * Ct[s];
            v8f l1 = carry[s + 1] + gyc * Ct[s + 1];
            gCv[s] = gCv[s] + gyc * x[s];
            gCv[s + 1] = gCv[s + 1] + gyc * x[s + 1];
            gBv[s] = gBv[s] + l0 * du;
            gBv[s + 1] = gBv[s + 1] + l1 * du;
            lb0 = lb0 + l0 * Bt[s];
            lb1 = lb1 + l1 * Bt[s + 1];
            v8f q0 = l0 * dc[s] * xp[s]; /* λ_t ⊙ exp(Δ_t A) ⊙ x_{t-1} */
            v8f q1 = l1 * dc[s + 1] * xp[s + 1];
            gA[s] = gA[s] + q0 * dv;
            gA[s + 1] = gA[s + 1] + q1 * dv;
            gd0 = gd0 + q0 * ld(A + s * W);
            gd1 = gd1 + q1 * ld(A + (s + 1) * W);
            carry[s] = dc[s] * l0;
            carry[s + 1] = dc[s + 1] * l1;
        }
        if (s < S) {
            v8f l0 = carry[s] + gyc * Ct[s];
            gCv[s] = gCv[s] + gyc * x[s];
            gBv[s] = gBv[s] + l0 * du;
            lb0 = lb0 + l0 * Bt[s];
            v8f q0 = l0 * dc[s] * xp[s];
            gA[s] = gA[s] + q0 * dv;
            gd0 = gd0 + q0 * ld(A + s * W);
            carry[s] = dc[s] * l0;
        }
        v8f lam_b = lb0 + lb1; /* Σ_s λ_s B_s */
        stn(gut, lam_b * dv + gyc * Dv, n);
        v8f gd = (gd0 + gd1 + lam_b * uv) * w->terms.sg[i];
        *gbias = *gbias + gd;
        stn(gdt, gd, n);
    }
}

static inline float hsum(v8f v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

int64_t ss_backward(const ss_args *a) {
    const int64_t L = a->L, Bn = a->B, E = a->E, S = a->S, T = a->T;
    const int64_t groups = (a->e1 - a->e0 + W - 1) / W;
    const int64_t chunks = (L + T - 1) / T;
    bwd_buffers w;
    w.X = alloc_vectors(T * S);
    w.Dc = alloc_vectors(T * S);
    w.gBv = alloc_vectors(T * S);
    w.gCv = alloc_vectors(T * S);
    w.terms.dl = alloc_vectors(T);
    w.terms.sg = alloc_vectors(T);
    w.terms.gate = alloc_vectors(T);
    w.yc = alloc_vectors(T);
    w.in = (float *)alloc_vectors(3 * T);
    v8f *carry = alloc_vectors(groups * S), *gA = alloc_vectors(groups * S);
    v8f *gD = alloc_vectors(groups), *gbias = alloc_vectors(groups), *h0 = alloc_vectors(S);
    int64_t rc = 0;
    if (!(w.X && w.Dc && w.gBv && w.gCv && w.terms.dl && w.terms.sg && w.terms.gate && w.yc && w.in && carry && gA && gD &&
          gbias && h0)) {
        rc = 1;
        goto done;
    }
    for (int64_t g = 0; g < groups; g++) {
        for (int64_t s = 0; s < S; s++) gA[g * S + s] = bc(0.0f);
        gD[g] = bc(0.0f);
        gbias[g] = bc(0.0f);
    }
    for (int64_t b = 0; b < Bn; b++) {
        for (int64_t i = 0; i < groups * S; i++) carry[i] = bc(0.0f);
        for (int64_t c = chunks - 1; c >= 0; c--) {
            const int64_t t0 = c * T, nt = t0 + T < L ? T : L - t0;
            for (int64_t i = 0; i < nt * S; i++) w.gBv[i] = w.gCv[i] = bc(0.0f);
            for (int64_t g = 0; g < groups; g++) {
                int64_t e = a->e0 + g * W;
                int n = (int)(a->e1 - e < W ? a->e1 - e : W);
                for (int64_t s = 0; s < S; s++) h0[s] = ldn(a->ckpt + ((c * Bn + b) * S + s) * E + e, n);
                if (S == 16)
                    bwd_chunk(a, &w, b, e, n, t0, nt, h0, carry + g * S, gA + g * S, gD + g, gbias + g, 16);
                else
                    bwd_chunk(a, &w, b, e, n, t0, nt, h0, carry + g * S, gA + g * S, gD + g, gbias + g, S);
            }
            for (int64_t i = 0; i < nt; i++) {
                float *gBt = ROW(a, gB, t0 + i, b, 0), *gCt = ROW(a, gC, t0 + i, b, 0);
                for (int64_t s = 0; s < S; s++) {
                    gBt[s] = hsum(w.gBv[i * S + s]);
                    gCt[s] = hsum(w.gCv[i * S + s]);
                }
            }
        }
    }
    for (int64_t g = 0; g < groups; g++) {
        int64_t e = a->e0 + g * W;
        for (int64_t s = 0; s < S; s++) st(a->gA + e * S + s * W, gA[g * S + s]);
        if (a->gD) st(a->gD + e, gD[g]);
        if (a->gbias) st(a->gbias + e, gbias[g]);
    }
done:
    free(w.X);
    free(w.Dc);
    free(w.gBv);
    free(w.gCv);
    free(w.terms.dl);
    free(w.terms.sg);
    free(w.terms.gate);
    free(w.yc);
    free(w.in);
    free(carry);
    free(gA);
    free(gD);
    free(gbias);
    free(h0);
    return rc;
}

/* ---- causal depthwise conv + SiLU, streamed (the Mamba block's conv, for the inference path) ---- */

#define CONV_MAX_WIDTH 8

typedef struct {
    int64_t n, E, K;             /* rows, channels, conv width (≤ CONV_MAX_WIDTH) */
    int64_t e0, e1;              /* channel range of this call; e0 a multiple of W */
    const float *x; int64_t x_t; /* input row t at x + t * x_t, channels unit-stride */
    float *carry;                /* (K - 1, E): the input rows before row 0; replaced by the last K - 1 rows */
    const float *w;              /* (K, E8): w[k] multiplies the input K - 1 - k rows back */
    const float *bias;           /* (E8,) or NULL */
    float *out; int64_t out_t;   /* output row t at out + t * out_t */
} conv_args;

/* out_t = silu(x_t w_{K-1} + bias + Σ_{k<K-1} x_{t-(K-1)+k} w_k), the terms in the order of the
 * pure-PyTorch block; rows before 0 come from carry. Walked row by row (each row's channels
 * contiguous), the K - 1 rows before it being the last rows read, still in cache. */
int64_t ss_conv_silu(const conv_args *a) {
    const int64_t K = a->K, E = a->E, E8 = (E + W - 1) / W * W, n = a->n;
    if (K < 1 || K > CONV_MAX_WIDTH) return 2;
    float *keep = NULL; /* the new carry, when it needs rows of the old one (n < K - 1) */
    for (int64_t t = 0; t < n; t++) {
        const float *rows[CONV_MAX_WIDTH]; /* rows[k]: input row t - (K - 1) + k */
        for (int64_t k = 0; k < K; k++) {
            int64_t j = t - (K - 1) + k;
            rows[k] = j >= 0 ? a->x + j * a->x_t : a->carry + (j + K - 1) * E;
        }
        float *out = a->out + t * a->out_t;
        for (int64_t e = a->e0; e < a->e1; e += W) {
            const int m = (int)(a->e1 - e < W ? a->e1 - e : W);
            v8f acc = ldn(rows[K - 1] + e, m) * ld(a->w + (K - 1) * E8 + e);
            if (a->bias) acc = acc + ld(a->bias + e);
            for (int64_t k = 0; k < K - 1; k++) acc = acc + ldn(rows[k] + e, m) * ld(a->w + k * E8 + e);
            stn(out + e, acc * sigmoid(acc), m);
        }
    }
    /* carry ← input rows n - (K - 1) … n - 1 */
    if (n < K - 1) {
        keep = (float *)malloc(sizeof(float) * (size_t)(K - 1) * (size_t)(a->e1 - a->e0));
        if (!keep) return 1;
    }
    for (int64_t k = 0; k < K - 1; k++) {
        int64_t j = n - (K - 1) + k;
        const float *src = j >= 0 ? a->x + j * a->x_t : a->carry + (j + K - 1) * E;
        float *dst = keep ? keep + k * (a->e1 - a->e0) : a->carry + k * E + a->e0;
        if (keep || j >= 0) memmove(dst, src + a->e0, sizeof(float) * (size_t)(a->e1 - a->e0));
    }
    if (keep) {
        for (int64_t k = 0; k < K - 1; k++)
            memcpy(a->carry + k * E + a->e0, keep + k * (a->e1 - a->e0), sizeof(float) * (size_t)(a->e1 - a->e0));
        free(keep);
    }
    return 0;
}
