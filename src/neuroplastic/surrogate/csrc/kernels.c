/* Compiled CPU kernels of the surrogate-gradient layers (see _cengine.py).
 * Loaded with ctypes, so importing them costs no JIT; float and double versions. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* -O3 (the file's level) vectorises the dense recurrences best, but turns the sparse
 * products' inner loops into gathers that ran 2-4x slower (GCC 12); -O2 with vectorisation
 * keeps them plain. */
#if defined(__GNUC__) && !defined(__clang__)
#define SPARSE_OPT __attribute__((optimize("O2", "tree-vectorize", "unroll-loops")))
#else
#define SPARSE_OPT
#endif

/* Run CALL (which uses lo and hi) over [0, NITEMS) split between NTH OpenMP threads. */
#ifdef _OPENMP
#include <omp.h>
#define PAR_RANGE(NITEMS, NTH, CALL)                                                      \
    do {                                                                                  \
        int64_t n_items_ = (NITEMS);                                                      \
        int nth_ = (NTH) < 1 ? 1 : (NTH);                                                 \
        if (nth_ > n_items_) nth_ = n_items_ > 0 ? (int)n_items_ : 1;                     \
        _Pragma("omp parallel num_threads(nth_) if(nth_ > 1)")                            \
        {                                                                                 \
            int64_t k_ = omp_get_thread_num(), K_ = omp_get_num_threads();               \
            int64_t lo = n_items_ * k_ / K_, hi = n_items_ * (k_ + 1) / K_;               \
            CALL;                                                                         \
        }                                                                                 \
    } while (0)
#else
#define PAR_RANGE(NITEMS, NTH, CALL)                                                      \
    do {                                                                                  \
        (void)(NTH);                                                                      \
        int64_t lo = 0, hi = (NITEMS);                                                    \
        CALL;                                                                             \
    } while (0)
#endif

#define REAL float
#define NAME(x) x##_f32
#define EXP expf
#include "kernels_body.h"
#undef REAL
#undef NAME
#undef EXP

#define REAL double
#define NAME(x) x##_f64
#define EXP exp
#include "kernels_body.h"
#undef REAL
#undef NAME
#undef EXP
