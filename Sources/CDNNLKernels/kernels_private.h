#ifndef CDNNL_KERNELS_PRIVATE_H
#define CDNNL_KERNELS_PRIVATE_H

/* What the kernels share and the package's users do not see. */

/* libgomp's entry points (what gcc's `#pragma omp parallel` compiles to); the package's C is
   compiled by clang, whose own OpenMP runtime is not the one oneDNN uses. */
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

static inline float cdnnl_clamp(float v, float low, float high) { return v < low ? low : (v > high ? high : v); }

/* Whether this CPU runs the AVX2/FMA paths; asked once in each C file that calls it (a static
   inline's cache is the file's own). Call it before GOMP_parallel so the threads only read the
   cached answer. */
static inline int cdnnl_has_avx2(void) {
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return known;
}

#endif
