/* Kernels of one floating type; included by kernels.c once per type with
 * REAL (float or double), NAME(x) (suffixes the function names) and EXP (expf or exp).
 * Every kernel takes a half-open range [lo, hi) of independent items (neurons, rows or
 * columns) so that the caller can split the work between threads.
 * Arithmetic follows neuroplastic.neurons.lif.lif_step operation by operation; the file is
 * compiled with -ffp-contract=off, so no multiply-add is fused and the spikes agree bit for
 * bit with the torch reference. */

/* LIF membrane recurrence over T steps; cur, spk, mem: (T, N) row-major. */
static void NAME(lif_forward_range)(int64_t T, int64_t N, int64_t lo, int64_t hi,
                       const REAL *restrict cur, const REAL *restrict v0,
                       const REAL *restrict v_rest, const REAL *restrict decay,
                       const REAL *restrict drive, const REAL *restrict thr,
                       const REAL *restrict v_reset, int subtract,
                       REAL *restrict spk, REAL *restrict mem, REAL *restrict v_out)
{
    int64_t n = hi - lo;
    REAL *v = (REAL *)malloc(sizeof(REAL) * (size_t)(n > 0 ? n : 1));
    for (int64_t j = 0; j < n; j++) v[j] = v0[lo + j];
    for (int64_t t = 0; t < T; t++) {
        const REAL *restrict c = cur + t * N + lo;
        REAL *restrict m = mem + t * N + lo;
        REAL *restrict sp = spk + t * N + lo;
        const REAL *restrict vr = v_rest + lo, *restrict dc = decay + lo,
                   *restrict dr = drive + lo, *restrict th = thr + lo,
                   *restrict vs = v_reset + lo;
        for (int64_t j = 0; j < n; j++) {  /* the loop-invariant branch is unswitched */
            REAL acc = vr[j] + (v[j] - vr[j]) * dc[j];
            acc = acc + dr[j] * c[j];
            m[j] = acc;
            REAL s = (acc - th[j] > (REAL)0) ? (REAL)1 : (REAL)0;
            sp[j] = s;
            v[j] = subtract ? acc - s * (th[j] - vs[j]) : acc * ((REAL)1 - s) + vs[j] * s;
        }
    }
    for (int64_t j = 0; j < n; j++) v_out[lo + j] = v[j];
    free(v);
}

/* surrogate derivative of one row segment; c = (1, k, pi k / 2, k / 2) */
static void NAME(surrogate_row)(int64_t n, const REAL *restrict m, const REAL *restrict th,
                                int kind, const REAL *restrict c, REAL *restrict out)
{
    const REAL one = c[0], k = c[1], ka = c[2], kh = c[3];
    if (kind == 0) {
        for (int64_t j = 0; j < n; j++) {
            REAL x = m[j] - th[j];
            REAL d = k * (x < 0 ? -x : x) + one;
            out[j] = one / (d * d);
        }
    } else if (kind == 1) {
        for (int64_t j = 0; j < n; j++) {
            REAL a = ka * (m[j] - th[j]);
            out[j] = kh / (one + a * a);
        }
    } else if (kind == 2) {
        for (int64_t j = 0; j < n; j++) {
            REAL z = one / (one + EXP(-(k * (m[j] - th[j]))));
            out[j] = k * z * (one - z);
        }
    } else {
        for (int64_t j = 0; j < n; j++) {
            REAL x = m[j] - th[j];
            REAL t = one - k * (x < 0 ? -x : x);
            out[j] = k * (t > 0 ? t : (REAL)0);
        }
    }
}

/* One step of the adjoint over a row segment, from private row buffers (sg: surrogate,
 * sb: spike, hb: v_reset - u, vp: previous post-reset membrane minus v_rest), one loop per
 * reset mode (each keeps the reference's operation order and vectorises on its own). */
#ifndef ADJOINT_LOOP
#define ADJOINT_LOOP(GS, GU, GT)                                                          \
    for (int64_t j = 0; j < n; j++) {                                                     \
        REAL g = gv[j];                                                                   \
        REAL gs = (GS);                                                                   \
        REAL gx = gs * sg[j];                                                             \
        REAL gu = (GU);                                                                   \
        gt[j] = (GT);                                                                     \
        gct[j] = dr[j] * gu;                                                              \
        gd[j] = gd[j] + gu * vp[j];                                                       \
        gv[j] = gu * dc[j];                                                               \
    }
#endif
static void NAME(adjoint_row)(int64_t n, const REAL *restrict gst, const REAL *restrict sg,
                              const REAL *restrict sb, const REAL *restrict hb,
                              const REAL *restrict rs, const REAL *restrict vp,
                              const REAL *restrict dr, const REAL *restrict dc, int subtract,
                              int detach, REAL one, REAL *restrict gv, REAL *restrict gd,
                              REAL *restrict gt, REAL *restrict gct)
{
    if (subtract && !detach) {
        ADJOINT_LOOP(gst[j] - g * rs[j], g + gx, (gt[j] - g * sb[j]) - gx)
    } else if (subtract) {
        ADJOINT_LOOP(gst[j], g + gx, (gt[j] - g * sb[j]) - gx)
    } else if (!detach) {
        ADJOINT_LOOP(gst[j] + g * hb[j], g * (one - sb[j]) + gx, gt[j] - gx)
    } else {
        ADJOINT_LOOP(gst[j], g * (one - sb[j]) + gx, gt[j] - gx)
    }
}

/* Reverse-time adjoint of lif_forward. The spikes are recomputed from the saved pre-reset
 * membrane (s = H(u - thr), as in the forward pass), so only mem is kept between passes. */
static void NAME(lif_backward_range)(int64_t T, int64_t N, int64_t lo, int64_t hi,
                        const REAL *restrict g_spk, const REAL *restrict g_vT,
                        const REAL *restrict mem, const REAL *restrict v0,
                        const REAL *restrict v_rest, const REAL *restrict decay,
                        const REAL *restrict drive, const REAL *restrict thr,
                        const REAL *restrict v_reset, int subtract, int detach, int kind,
                        const REAL *restrict consts, REAL *restrict g_cur,
                        REAL *restrict g_v0, REAL *restrict g_decay, REAL *restrict g_thr)
{
    int64_t n = hi - lo;
    size_t sz = sizeof(REAL) * (size_t)(n > 0 ? n : 1);
    REAL *gv = (REAL *)malloc(sz), *gd = (REAL *)malloc(sz), *gt = (REAL *)malloc(sz);
    REAL *sg = (REAL *)malloc(sz), *vp = (REAL *)malloc(sz), *rs = (REAL *)malloc(sz);
    REAL *sb = (REAL *)malloc(sz), *hb = (REAL *)malloc(sz);
    const REAL one = consts[0];
    const REAL *restrict vr = v_rest + lo, *restrict dc = decay + lo, *restrict dr = drive + lo,
               *restrict th = thr + lo, *restrict vs = v_reset + lo;
    for (int64_t j = 0; j < n; j++) {
        gv[j] = g_vT[lo + j];
        gd[j] = 0;
        gt[j] = 0;
        rs[j] = th[j] - vs[j];
    }
    for (int64_t t = T - 1; t >= 0; t--) {
        const REAL *restrict mt = mem + t * N + lo;
        NAME(surrogate_row)(n, mt, th, kind, consts, sg);
        for (int64_t j = 0; j < n; j++) {
            sb[j] = (mt[j] - th[j] > (REAL)0) ? one : (REAL)0;
            hb[j] = vs[j] - mt[j];
        }
        if (t > 0) {
            const REAL *restrict mp = mem + (t - 1) * N + lo;
            for (int64_t j = 0; j < n; j++) {
                REAL s = (mp[j] - th[j] > (REAL)0) ? one : (REAL)0;
                vp[j] = (subtract ? mp[j] - s * rs[j] : mp[j] * (one - s) + vs[j] * s) - vr[j];
            }
        } else {
            for (int64_t j = 0; j < n; j++) vp[j] = v0[lo + j] - vr[j];
        }
        NAME(adjoint_row)(n, g_spk + t * N + lo, sg, sb, hb, rs, vp, dr, dc, subtract, detach,
                          one, gv, gd, gt, g_cur + t * N + lo);
    }
    for (int64_t j = 0; j < n; j++) {
        g_v0[lo + j] = gv[j];
        g_decay[lo + j] = gd[j];
        g_thr[lo + j] = gt[j];
    }
    free(gv); free(gd); free(gt); free(sg); free(vp); free(rs); free(sb); free(hb);
}

/* out[t] = c_t with c_0 = c0, c_{t+1} = c_t * decay + x[t]; c_last = c_T. */
static void NAME(linear_scan_range)(int64_t T, int64_t N, int64_t lo, int64_t hi,
                                    const REAL *restrict x,
                       const REAL *restrict c0, const REAL *restrict decay,
                       REAL *restrict out, REAL *restrict c_last)
{
    for (int64_t j = lo; j < hi; j++) c_last[j] = c0[j];
    for (int64_t t = 0; t < T; t++) {
        for (int64_t j = lo; j < hi; j++) {
            out[t * N + j] = c_last[j];
            c_last[j] = c_last[j] * decay[j] + x[t * N + j];
        }
    }
}

static void NAME(linear_scan_backward_range)(int64_t T, int64_t N, int64_t lo, int64_t hi,
                                const REAL *restrict g_out, const REAL *restrict g_last,
                                const REAL *restrict decay, REAL *restrict g_x,
                                REAL *restrict g_c0)
{
    for (int64_t j = lo; j < hi; j++) g_c0[j] = g_last[j];
    for (int64_t t = T - 1; t >= 0; t--) {
        for (int64_t j = lo; j < hi; j++) {
            g_x[t * N + j] = g_c0[j];
            g_c0[j] = g_c0[j] * decay[j] + g_out[t * N + j];
        }
    }
}

/* Non-zeros per row of x (R, N), rows [lo, hi): counts[r + 1]. */
SPARSE_OPT static void NAME(csr_count_range)(int64_t N, int64_t lo, int64_t hi,
                                             const REAL *restrict x,
                     int64_t *restrict counts)
{
    for (int64_t r = lo; r < hi; r++) {
        const REAL *restrict xr = x + r * N;
        int64_t c = 0;
        for (int64_t j = 0; j < N; j++) c += (xr[j] != 0);
        counts[r + 1] = c;
    }
}

SPARSE_OPT static void NAME(csr_fill_range)(int64_t N, int64_t lo, int64_t hi,
                                            const REAL *restrict x,
                    const int64_t *restrict indptr, int32_t *restrict indices,
                    REAL *restrict values)
{
    /* branch-free compaction into a private row buffer (always write, advance only past
     * non-zeros), then one copy of the row's entries */
    int32_t *bi = (int32_t *)malloc(sizeof(int32_t) * (size_t)(N + 1));
    REAL *bv = (REAL *)malloc(sizeof(REAL) * (size_t)(N + 1));
    for (int64_t r = lo; r < hi; r++) {
        const REAL *restrict xr = x + r * N;
        int64_t q = 0;
        for (int64_t j = 0; j < N; j++) {
            bi[q] = (int32_t)j;
            bv[q] = xr[j];
            q += (xr[j] != 0);
        }
        memcpy(indices + indptr[r], bi, sizeof(int32_t) * (size_t)q);
        memcpy(values + indptr[r], bv, sizeof(REAL) * (size_t)q);
    }
    free(bi);
    free(bv);
}

/* out[r, lo:hi] = bias[lo:hi] + sum_p values[p] * wt[indices[p], lo:hi] for every row r, i.e.
 * columns [lo, hi) of the product (each thread keeps its slice of W^T in its own cache). */
SPARSE_OPT static void NAME(spmm_forward_range)(int64_t R, int64_t M, int64_t lo, int64_t hi,
                        const int64_t *restrict indptr, const int32_t *restrict indices,
                        const REAL *restrict values, const REAL *restrict wt,
                        const REAL *restrict bias, REAL *restrict out)
{
    int64_t w = hi - lo;
    for (int64_t r = 0; r < R; r++) {
        REAL *restrict o = out + r * M + lo;
        if (bias) {
            for (int64_t c = 0; c < w; c++) o[c] = bias[lo + c];
        } else {
            for (int64_t c = 0; c < w; c++) o[c] = 0;
        }
        for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) {
            const REAL *restrict wr = wt + (int64_t)indices[p] * M + lo;
            REAL a = values[p];
            for (int64_t c = 0; c < w; c++) o[c] += a * wr[c];
        }
    }
}

/* gwt[j, lo:hi] = sum over rows r with x[r, j] != 0 of x[r, j] * g[r, lo:hi]: columns
 * [lo, hi) of the (N_in, M) W^T gradient, accumulated in a private contiguous buffer. */
SPARSE_OPT static void NAME(spmm_grad_weight_range)(int64_t R, int64_t M, int64_t n_in,
                                                    int64_t lo, int64_t hi,
                            const int64_t *restrict indptr, const int32_t *restrict indices,
                            const REAL *restrict values, const REAL *restrict g,
                            REAL *restrict gwt)
{
    int64_t w = hi - lo;
    REAL *acc = (REAL *)calloc((size_t)(n_in * w > 0 ? n_in * w : 1), sizeof(REAL));
    for (int64_t r = 0; r < R; r++) {
        const REAL *restrict gr = g + r * M + lo;
        for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) {
            REAL *restrict ar = acc + (int64_t)indices[p] * w;
            REAL a = values[p];
            for (int64_t c = 0; c < w; c++) ar[c] += a * gr[c];
        }
    }
    for (int64_t j = 0; j < n_in; j++)
        memcpy(gwt + j * M + lo, acc + j * w, sizeof(REAL) * (size_t)w);
    free(acc);
}

/* ---- exported entry points: the range kernels above split over `nth` OpenMP threads (the
 * runtime PyTorch already loaded, so no second thread pool), or run whole without OpenMP. */

void NAME(lif_forward)(int64_t T, int64_t N, int nth, const REAL *cur, const REAL *v0,
                       const REAL *v_rest, const REAL *decay, const REAL *drive,
                       const REAL *thr, const REAL *v_reset, int subtract, REAL *spk, REAL *mem,
                       REAL *v_out)
{
    PAR_RANGE(N, nth, NAME(lif_forward_range)(T, N, lo, hi, cur, v0, v_rest, decay, drive, thr,
                                              v_reset, subtract, spk, mem, v_out));
}

void NAME(lif_backward)(int64_t T, int64_t N, int nth, const REAL *g_spk, const REAL *g_vT,
                        const REAL *mem, const REAL *v0, const REAL *v_rest, const REAL *decay,
                        const REAL *drive, const REAL *thr, const REAL *v_reset, int subtract,
                        int detach, int kind, const REAL *consts, REAL *g_cur, REAL *g_v0,
                        REAL *g_decay, REAL *g_thr)
{
    PAR_RANGE(N, nth, NAME(lif_backward_range)(T, N, lo, hi, g_spk, g_vT, mem, v0, v_rest,
                                               decay, drive, thr, v_reset, subtract, detach,
                                               kind, consts, g_cur, g_v0, g_decay, g_thr));
}

void NAME(linear_scan)(int64_t T, int64_t N, int nth, const REAL *x, const REAL *c0,
                       const REAL *decay, REAL *out, REAL *c_last)
{
    PAR_RANGE(N, nth, NAME(linear_scan_range)(T, N, lo, hi, x, c0, decay, out, c_last));
}

void NAME(linear_scan_backward)(int64_t T, int64_t N, int nth, const REAL *g_out,
                                const REAL *g_last, const REAL *decay, REAL *g_x, REAL *g_c0)
{
    PAR_RANGE(N, nth, NAME(linear_scan_backward_range)(T, N, lo, hi, g_out, g_last, decay, g_x,
                                                       g_c0));
}

void NAME(csr_count)(int64_t R, int64_t N, int nth, const REAL *x, int64_t *counts)
{
    PAR_RANGE(R, nth, NAME(csr_count_range)(N, lo, hi, x, counts));
}

void NAME(csr_fill)(int64_t R, int64_t N, int nth, const REAL *x, const int64_t *indptr,
                    int32_t *indices, REAL *values)
{
    PAR_RANGE(R, nth, NAME(csr_fill_range)(N, lo, hi, x, indptr, indices, values));
}

void NAME(spmm_forward)(int64_t R, int64_t M, int nth, const int64_t *indptr,
                        const int32_t *indices, const REAL *values, const REAL *wt,
                        const REAL *bias, REAL *out)
{
    PAR_RANGE(M, nth, NAME(spmm_forward_range)(R, M, lo, hi, indptr, indices, values, wt, bias,
                                               out));
}

void NAME(spmm_grad_weight)(int64_t R, int64_t M, int64_t n_in, int nth, const int64_t *indptr,
                            const int32_t *indices, const REAL *values, const REAL *g,
                            REAL *gwt)
{
    PAR_RANGE(M, nth, NAME(spmm_grad_weight_range)(R, M, n_in, lo, hi, indptr, indices, values,
                                                   g, gwt));
}
