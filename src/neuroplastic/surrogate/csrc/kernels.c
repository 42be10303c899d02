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
